// Release 1 of the tasks example: a to-do list that survives restarts.
// Release 2 (../v2/main.cpp) changes the task type; README, "Changing your
// types", walks through what that takes.  usage: tasks_v1 [dir]
#include <cstdio>
#include <string>
#include <vector>

import instadump;

namespace tasks {
struct task {
  std::string title;
  bool done = false;
  int priority = 0;
};

[[instadump::state]] instadump::ref<std::vector<task>> list{std::vector<task>{}};
}  // namespace tasks

int main(int argc, char** argv) {
  instadump::setup(argc > 1 ? argv[1] : "tasks-db");
  if (tasks::list.deref().empty()) {
    instadump::dosync([] { tasks::list.set({{"write the README", true, 2}, {"ship release 2", false, 1}}); });
    instadump::save_all();
  }
  for (const tasks::task& t : tasks::list.deref()) {
    std::printf("[%c] %s (priority %d)\n", t.done ? 'x' : ' ', t.title.c_str(), t.priority);
  }
}
