// btree_value: what pmap and pset have in common -- a value that holds one
// B+-tree root -- and what their transients have in common.
//
// tree_root is the value: copying it takes one more hold on the root (O(1)
// whatever the size), destroying it gives the hold back. transient_root is
// the transient's: it owns its root like a value but changes the tree in
// place where it can (see btree.cppm), and is ended by persistent().
module;
#include <cstddef>
#include <utility>
export module instadump:btree_value;
import :pnode;
import :btree_nodes;
import :btree_cursor;
import :collection_errors;

export namespace instadump::detail {

template <class K, class V>
class tree_root {
  using nodes = btree_nodes<K, V>;

 public:
  tree_root() noexcept = default;
  // Takes over a hold the caller has on `root` (may be null).
  explicit tree_root(node_header* root) noexcept : root_(root) {}
  tree_root(const tree_root& o) noexcept : root_(o.root_) {
    if (root_) hold(root_);
  }
  tree_root(tree_root&& o) noexcept : root_(std::exchange(o.root_, nullptr)) {}
  tree_root& operator=(tree_root o) noexcept {
    std::swap(root_, o.root_);
    return *this;
  }
  ~tree_root() {
    if (root_) nodes::release(root_);
  }

  node_header* get() const noexcept { return root_; }
  // The root, for a change in place by the value's owner.
  node_header*& slot() noexcept { return root_; }
  // Gives up the hold without dropping it.
  node_header* release() noexcept { return std::exchange(root_, nullptr); }

  std::size_t size() const noexcept { return root_ ? root_->size : 0; }

  btree_cursor<K, V> first() const noexcept {
    btree_cursor<K, V> c;
    c.seek_first(root_);
    return c;
  }
  btree_cursor<K, V> seek(const K& key, bool upper) const {
    btree_cursor<K, V> c;
    c.seek(root_, key, upper);
    return c;
  }

  // Entry-by-entry equality (`same` compares the mapped values).
  template <class Same>
  bool equal(const tree_root& o, Same same) const {
    if (root_ == o.root_) return true;
    if (size() != o.size()) return false;
    btree_cursor<K, V> a = first(), b = o.first();
    for (; !a.at_end(); a.next(), b.next()) {
      if (!(a.key() == b.key()) || !same(a, b)) return false;
    }
    return true;
  }

 private:
  node_header* root_ = nullptr;
};

// The state of a transient: a tree root it owns and may change in place,
// until persistent() hands the root to a value. `name` is the collection's
// name for error messages ("transient_pmap").
template <class K, class V>
class transient_root {
  using nodes = btree_nodes<K, V>;

 public:
  explicit transient_root(tree_root<K, V> from) noexcept : root_(from.release()), live_(true) {}
  transient_root(transient_root&& o) noexcept
      : root_(std::exchange(o.root_, nullptr)), live_(std::exchange(o.live_, false)) {}
  transient_root& operator=(transient_root&& o) noexcept {
    if (this != &o) {
      if (root_) nodes::release(root_);
      root_ = std::exchange(o.root_, nullptr);
      live_ = std::exchange(o.live_, false);
    }
    return *this;
  }
  transient_root(const transient_root&) = delete;
  transient_root& operator=(const transient_root&) = delete;
  ~transient_root() {
    if (root_) nodes::release(root_);
  }

  // The root, for reading; throws transient_consumed once ended.
  node_header* get(const char* name, const char* op) const {
    if (!live_) throw_transient_consumed(name, op);
    return root_;
  }
  // The root, for changing it.
  node_header*& slot(const char* name, const char* op) {
    if (!live_) throw_transient_consumed(name, op);
    return root_;
  }
  // Ends the transient; the tree goes to the returned value.
  tree_root<K, V> end(const char* name) {
    if (!live_) throw_transient_consumed(name, "persistent");
    live_ = false;
    return tree_root<K, V>(std::exchange(root_, nullptr));
  }

 private:
  node_header* root_;
  bool live_;
};

}  // namespace instadump::detail
