// A file without states, as most of an application's files are: it formats
// a report of the stock. The benchmark edits it.
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "state.h"

namespace shop {

std::string stock_report(const std::map<std::string, item>& stock, std::size_t top) {
  std::vector<const item*> items;
  for (const auto& [name, it] : stock) items.push_back(&it);
  std::sort(items.begin(), items.end(), [](const item* a, const item* b) {
    return a->quantity != b->quantity ? a->quantity > b->quantity : a->name < b->name;
  });
  if (items.size() > top) items.resize(top);
  std::ostringstream out;
  for (const item* it : items) {
    out << std::left << std::setw(20) << it->name << std::right << std::setw(8) << it->quantity;
    if (it->price) out << "  " << std::fixed << std::setprecision(2) << *it->price;
    for (const std::string& tag : it->tags) out << " #" << tag;
    out << '\n';
  }
  return out.str();
}

}  // namespace shop
