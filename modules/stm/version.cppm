// Versions: the immutable values a ref has held, and pinned handles to them.
//
// Each committed value of a ref lives in its own heap node stamped with the
// commit time (the global clock value of the committing transaction). A ref
// keeps a newest-first chain of nodes; an older node stays in it while some
// running transaction may still read it and is then cut out (chain.cpp). A
// node is freed when its last holder lets go: the chain is one holder, every
// pinned<T> handle another. That is what lets a reader keep a
// million-element value alive in O(1) while writers move on.
module;
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>
export module instadump:version;
import :node_pool;

namespace instadump::detail {

class version_base {
 public:
  inline explicit version_base(std::uint64_t stamp) noexcept : stamp_(stamp) {}
  version_base(const version_base&) = delete;
  version_base& operator=(const version_base&) = delete;
  virtual ~version_base() = default;

  // Commit time of this version. Written once, before the node is published.
  inline std::uint64_t stamp() const noexcept { return stamp_; }
  inline void set_stamp(std::uint64_t s) noexcept { stamp_ = s; }

  // Next older version in the ref's chain, or null. Atomic because a
  // committer trims the chain while readers walk it.
  inline version_base* older() const noexcept { return older_.load(std::memory_order_acquire); }
  inline void set_older(version_base* v) noexcept { older_.store(v, std::memory_order_release); }

  // Holders: the chain (or the staging transaction) plus every pin.
  inline void hold() noexcept { holds_.fetch_add(1, std::memory_order_relaxed); }
  inline void release() noexcept {
    if (holds_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // release() for a version cut from its chain that no walk reaches any
  // more. Nobody can take a new hold on such a version (see chain.cpp), so
  // when ours is the only one left the atomic read-modify-write is skipped.
  inline void release_cut() noexcept {
    if (holds_.load(std::memory_order_acquire) == 1) {
      delete this;
    } else {
      release();
    }
  }

 private:
  std::uint64_t stamp_;
  std::atomic<version_base*> older_{nullptr};
  std::atomic<std::uint32_t> holds_{1};
};

template <class T>
class version final : public version_base {
 public:
  template <class... Args>
  explicit version(std::uint64_t stamp, Args&&... args)
      : version_base(stamp), value(std::forward<Args>(args)...) {}
  T value;

  // Nodes come from the calling thread's cache (node_pool.cppm).
  static void* operator new(std::size_t size) { return allocate_node(size); }
  static void operator delete(void* p, std::size_t size) noexcept { free_node(p, size); }
};

// One hold on a version (or none), given back when replaced or destroyed.
// Move-only: what a session keeps of a state's saved values.
class held_version {
 public:
  held_version() = default;
  inline held_version(held_version&& o) noexcept : v_(std::exchange(o.v_, nullptr)) {}
  inline held_version& operator=(held_version&& o) noexcept {
    if (this != &o) reset(std::exchange(o.v_, nullptr));
    return *this;
  }
  inline ~held_version() { reset(nullptr); }
  // Holds `v` (null: nothing) instead of what it held.
  inline void hold(version_base* v) noexcept {
    if (v) v->hold();
    reset(v);
  }
  // Holds `v` taking over the hold the caller has on it.
  inline void adopt(version_base* v) noexcept { reset(v); }
  inline const version_base* get() const noexcept { return v_; }

 private:
  inline void reset(version_base* v) noexcept {
    if (v_) v_->release();
    v_ = v;
  }
  version_base* v_ = nullptr;
};

}  // namespace instadump::detail

export namespace instadump {

// A read-only handle that keeps one version of a ref's value alive.
//
// Obtained from ref<T>::pin(). Copying a pinned<T> is O(1) (it shares the
// version); the value it shows never changes, whatever later transactions
// commit, and stays valid for as long as any copy of the handle exists — even
// after the ref itself is destroyed. Thread-safe to copy and read from any
// thread. An empty (default-constructed or moved-from) handle must not be read.
template <class T>
class pinned {
 public:
  pinned() noexcept = default;
  pinned(const pinned& o) noexcept : v_(o.v_) {
    if (v_) v_->hold();
  }
  pinned(pinned&& o) noexcept : v_(std::exchange(o.v_, nullptr)) {}
  pinned& operator=(pinned o) noexcept {
    std::swap(v_, o.v_);
    return *this;
  }
  ~pinned() {
    if (v_) v_->release();
  }

  inline const T& get() const noexcept { return v_->value; }
  inline const T& operator*() const noexcept { return v_->value; }
  inline const T* operator->() const noexcept { return &v_->value; }
  operator const T&() const noexcept { return v_->value; }
  inline explicit operator bool() const noexcept { return v_ != nullptr; }

  // Commit stamp of the pinned version (0 for a ref's default value).
  inline std::uint64_t stamp() const noexcept { return v_->stamp(); }

  // Adopts one hold on `v` (the caller has already taken it).
  inline static pinned adopt(detail::version<T>* v) noexcept {
    pinned p;
    p.v_ = v;
    return p;
  }

 private:
  detail::version<T>* v_ = nullptr;
};

}  // namespace instadump
