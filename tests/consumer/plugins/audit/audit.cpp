// A state in a module the program loads with dlopen after setup(): an audit
// log. Its state registers when the module is loaded, and gets its saved
// value then. The host reaches it through the C functions below.
#include <string>
#include <vector>

import instadump;

namespace audit {
[[instadump::state]] instadump::ref<std::vector<std::string>> log;
}  // namespace audit

extern "C" {
// Appends an entry. REQUIRES: inside a transaction.
void audit_record(const char* entry) {
  audit::log.alter([entry](std::vector<std::string> l) {
    l.push_back(entry);
    return l;
  });
}
// The number of entries and the last one ("" if none).
int audit_size() { return static_cast<int>(audit::log.deref().size()); }
const char* audit_last() {
  static thread_local std::string last;
  auto l = audit::log.deref();
  last = l.empty() ? std::string() : l.back();
  return last.c_str();
}
bool audit_sees_transaction() { return instadump::in_transaction(); }
bool audit_sees_setup() { return instadump::is_setup(); }
}
