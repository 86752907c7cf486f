#include <functional>
#include "instadump_stub.h"
struct Job {
  std::function<void()> run;  // expect-error: cannot persist jobs::next → Job::run: 'std::function' is not supported
};
namespace jobs {
[[instadump::state]] instadump::ref<Job> next;
}
