// Several processes on one store: the single-writer lock, read-only readers
// next to the writer (including after the writer grew the map), refusal to
// use a store after fork(), and release of crashed readers' slots.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errors.h"
#include "test_util.h"

using namespace instadump::storage;
using storage_test::pattern;
using storage_test::read_all;
using storage_test::run_in_child;
using storage_test::scratch_dir;
using storage_test::one_value;
using storage_test::value_of;
using storage_test::values_t;

namespace {

void write_byte(int fd) {
  char c = 1;
  REQUIRE(::write(fd, &c, 1) == 1);
}
bool read_byte(int fd) {
  char c;
  return ::read(fd, &c, 1) == 1;
}
}  // namespace

TEST_CASE("a second writer process gets locked_by_other_process and a read-only process reads alongside") {
  scratch_dir tmp;
  auto writer = snapshot_store::open(tmp.path(), {});
  writer->write_snapshot(one_value("a", 64, 1), true);
  writer->flush_journal();  // into data.mdb, where the reading process looks
  const int locked = run_in_child([&] {
    try {
      snapshot_store::open(tmp.path(), {});
    } catch (const instadump::locked_by_other_process& e) {
      return std::string(e.what()).find(tmp.path().string()) != std::string::npos;
    }
    return false;
  });
  CHECK(locked == 0);
  const int reader = run_in_child([&] {
    store_options ro;
    ro.read_only = true;
    auto store = snapshot_store::open(tmp.path(), ro);
    return read_all(*store, 1)["a"] == pattern(64, 1);
  });
  CHECK(reader == 0);
  // The writer is unaffected by its child readers.
  CHECK(writer->write_snapshot(one_value("a", 64, 2), true).id == 2);
  writer.reset();
  // With the writer gone, another writer may open.
  CHECK(run_in_child([&] { return snapshot_store::open(tmp.path(), {})->newest()->id == 2; }) == 0);
}

TEST_CASE("a read-only process adopts a map that the writer grew (MDB_MAP_RESIZED)") {
  scratch_dir tmp;
  store_options small;
  small.initial_map_size = 1 << 20;
  auto writer = snapshot_store::open(tmp.path(), small);
  writer->write_snapshot(one_value("a", 64, 1), true);
  writer->flush_journal();  // into data.mdb, where the reading process looks
  int to_child[2], to_parent[2];
  REQUIRE(::pipe(to_child) == 0);
  REQUIRE(::pipe(to_parent) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    bool ok = false;
    try {
      store_options ro;
      ro.read_only = true;
      auto reader = snapshot_store::open(tmp.path(), ro);
      ok = reader->newest()->id == 1;
      char c = 1;
      (void)!::write(to_parent[1], &c, 1);
      (void)!::read(to_child[0], &c, 1);  // the writer has grown the map
      auto newest = reader->newest();
      ok = ok && newest && newest->id == 2 && read_all(*reader, 2)["big"] == pattern(8 << 20, 2) &&
           reader->stats().map_bytes >= (8u << 20);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    ::_exit(ok ? 0 : 1);
  }
  REQUIRE(read_byte(to_parent[0]));
  writer->write_snapshot(one_value("big", 8 << 20, 2), true);
  CHECK(writer->stats().map_bytes >= (8u << 20));
  write_byte(to_child[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);
}

TEST_CASE("a store used in a forked child throws instead of corrupting the parent's environment") {
  scratch_dir tmp;
  auto store = snapshot_store::open(tmp.path(), {});
  store->write_snapshot(one_value("a", 64, 1), true);
  const int child = run_in_child([&] {
    try {
      store->newest();
    } catch (const instadump::storage_error& e) {
      if (std::string(e.what()).find("fork") == std::string::npos) return false;
      try {
        store->write_snapshot(one_value("a", 64, 2), true);
      } catch (const instadump::storage_error&) {
        store.reset();  // destroying it in the child must not touch the parent's reader slots
        return true;
      }
    }
    return false;
  });
  CHECK(child == 0);
  CHECK(store->write_snapshot(one_value("a", 64, 3), true).id == 2);
  CHECK(read_all(*store, 2)["a"] == pattern(64, 3));
}

TEST_CASE("open releases reader slots of processes killed inside a read") {
  scratch_dir tmp;
  { snapshot_store::open(tmp.path(), {})->write_snapshot(one_value("a", 64, 1), true); }
  store_options ro;
  ro.read_only = true;
  // A process that keeps the environment open: otherwise the next open is the
  // only user and LMDB resets the whole reader table anyway.
  int keeper_ready[2], keeper_go[2], victim_ready[2];
  REQUIRE(::pipe(keeper_ready) == 0);
  REQUIRE(::pipe(keeper_go) == 0);
  REQUIRE(::pipe(victim_ready) == 0);
  const pid_t keeper = ::fork();
  REQUIRE(keeper >= 0);
  if (keeper == 0) {
    auto store = snapshot_store::open(tmp.path(), ro);
    char c = 1;
    (void)!::write(keeper_ready[1], &c, 1);
    (void)!::read(keeper_go[0], &c, 1);
    ::_exit(0);
  }
  REQUIRE(read_byte(keeper_ready[0]));
  const pid_t victim = ::fork();
  REQUIRE(victim >= 0);
  if (victim == 0) {
    auto reader = snapshot_store::open(tmp.path(), ro);
    reader->read_snapshot(1, [&](const entry_info&, kj::ArrayPtr<const capnp::word>) {
      char c = 1;
      (void)!::write(victim_ready[1], &c, 1);
      ::pause();  // killed here, holding a read transaction
    });
    ::_exit(1);
  }
  REQUIRE(read_byte(victim_ready[0]));
  ::kill(victim, SIGKILL);
  int status = 0;
  ::waitpid(victim, &status, 0);
  {
    auto store = snapshot_store::open(tmp.path(), {});
    CHECK(store->stats().stale_readers_cleared == 1);
    CHECK(store->write_snapshot(one_value("a", 64, 2), true).id == 2);
  }
  write_byte(keeper_go[1]);
  ::waitpid(keeper, &status, 0);
  CHECK(WIFEXITED(status));
  for (int* p : {keeper_ready, keeper_go, victim_ready}) {
    ::close(p[0]);
    ::close(p[1]);
  }
}
