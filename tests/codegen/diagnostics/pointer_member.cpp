#include <map>
#include <string>
#include "instadump_stub.h"
struct Owner { std::string name; };
struct Item {
  std::string name;
  Owner* owner;  // expect-error: cannot persist shop::stock → Item::owner: raw pointers are not supported
};
namespace shop {
[[instadump::state]] instadump::ref<std::map<std::string, Item>> stock;
}
