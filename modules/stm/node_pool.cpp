// Implementation of the per-thread node caches (node_pool.cppm): the exit
// hook that returns cached nodes to the allocator.
module;
#include <cstddef>
#include <new>
module instadump;

namespace instadump::detail {
namespace {

struct pool_owner {
  ~pool_owner() {
    node_pool_state& pool = t_node_pool;
    pool.phase = 2;
    for (std::size_t c = 0; c < pool_classes; ++c) {
      while (void* p = pool.heads[c]) {
        pool.heads[c] = *static_cast<void**>(p);
        ::operator delete(p, (c + 1) * pool_granule);
      }
      pool.counts[c] = 0;
    }
  }
};

}  // namespace

bool start_node_pool() noexcept {
  if (t_node_pool.phase == 2) return false;
  thread_local pool_owner owner;  // registers the exit hook on first use
  (void)owner;
  t_node_pool.phase = 1;
  return true;
}

}  // namespace instadump::detail
