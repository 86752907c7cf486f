// Release 2 of the tasks example (release 1: ../v1/main.cpp). The task type
// changed in four ways; snapshots written by release 1 still load:
//   title    -> summary   renamed: [[instadump::renamed_from]] keeps its data
//   done     -> state     renamed and changed from bool to an enum: a
//                         migration (below) converts it
//   priority              int to std::int64_t: a widening, converted by itself
//   tags                  new: empty in older snapshots
// usage: tasks_v2 [dir]
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

import instadump;

namespace tasks {
enum class status { open, in_progress, done };

struct task {
  [[instadump::renamed_from("title")]] std::string summary;
  [[instadump::renamed_from("done")]] status state = status::open;
  std::int64_t priority = 0;
  std::vector<std::string> tags;
};

[[instadump::state]] instadump::ref<std::vector<task>> list{std::vector<task>{}};
}  // namespace tasks

// The build asked for this function, with this signature, when `done` became
// `state`: history version 1 is release 1's layout of task as a plain
// struct; version 2 is today's tasks::task (spelled by version, the function
// keeps compiling when a later release changes task again).
#include "tasks_v2_schema_history.h"

instadump::schema::v2::tasks::task instadump::schema::migrate(const instadump::schema::v1::tasks::task& old) {
  return tasks::task{old.title, old.done ? tasks::status::done : tasks::status::open, old.priority, {}};
}

int main(int argc, char** argv) {
  instadump::setup(argc > 1 ? argv[1] : "tasks-db");
  instadump::dosync([] {
    tasks::list.alter([](std::vector<tasks::task> list) {
      for (tasks::task& t : list) {
        if (t.tags.empty()) t.tags.push_back("imported");
      }
      return list;
    });
  });
  instadump::save_all();  // writes the new layout; release 1 can no longer read it
  const char* marks[] = {" ", "~", "x"};
  for (const tasks::task& t : tasks::list.deref()) {
    std::printf("[%s] %s (priority %lld, tags:", marks[static_cast<int>(t.state)], t.summary.c_str(),
                static_cast<long long>(t.priority));
    for (const std::string& tag : t.tags) std::printf(" %s", tag.c_str());
    std::printf(")\n");
  }
}
