// Arming libfiu's POSIX failure points with a counting callback (see
// fault_points.h).
#include "fault_points.h"

#define FIU_ENABLE 1
#include <fiu-control.h>
#include <fiu.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>

namespace faults {
namespace {

struct armed_state {
  fault_plan plan;
  std::vector<std::string> points;
  std::map<std::string, std::atomic<int>> calls;  // keys fixed while armed
  std::atomic<int> injected{0};
};

// Read by the callback in any thread of the process.
std::atomic<armed_state*> g_armed{nullptr};

// libfiu calls this for every call of an armed point: nonzero fails it with
// *failinfo as errno.
int decide(const char* name, int* failnum, void** failinfo, unsigned int* flags) {
  (void)failnum;
  (void)flags;
  armed_state* s = g_armed;
  if (s == nullptr) return 0;
  auto it = s->calls.find(name);
  if (it == s->calls.end()) return 0;
  const int n = it->second.fetch_add(1) + 1;
  if (s->plan.point != name) return 0;
  const bool fail = s->plan.once ? n == s->plan.nth : n >= s->plan.nth;
  if (!fail) return 0;
  *failinfo = reinterpret_cast<void*>(static_cast<std::intptr_t>(s->plan.error));
  s->injected.fetch_add(1);
  return 1;
}

}  // namespace

void arm(const fault_plan& plan, const std::vector<std::string>& points) {
  fiu_init(0);
  auto* s = new armed_state;
  s->plan = plan;
  s->points = points;
  s->points.push_back(plan.point);
  for (const auto& p : s->points) s->calls[p];
  g_armed = s;
  for (const auto& p : s->calls) {
    fiu_enable_external(p.first.c_str(), 1, reinterpret_cast<void*>(static_cast<std::intptr_t>(plan.error)), 0,
                        decide);
  }
}

void disarm() {
  armed_state* s = g_armed;
  if (s == nullptr) return;
  for (const auto& p : s->calls) fiu_disable(p.first.c_str());
  // (The state stays: a call already inside decide() may still read it. One
  // small leak per arm(), in a short-lived child.)
}

int injected() {
  const armed_state* s = g_armed.load();
  return s ? s->injected.load() : 0;
}

int calls(const std::string& point) {
  armed_state* s = g_armed.load();
  if (s == nullptr) return 0;
  auto it = s->calls.find(point);
  return it == s->calls.end() ? 0 : it->second.load();
}

bool preload_active() {
  const char* preload = std::getenv("LD_PRELOAD");
  return preload != nullptr && std::strstr(preload, "fiu_posix_preload") != nullptr;
}

}  // namespace faults
