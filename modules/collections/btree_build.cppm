// btree_build: building a whole B+-tree at once from entries in key order.
//
// Entries are streamed into full leaves, then each level of branches is
// built over the one below, every node full but the last two of a level,
// which share their entries evenly when the last would be under half full.
// Each entry is copied (or moved) once, into its leaf; nothing is searched
// or copied along a path. Used by pmap::from_sorted / pset::from_sorted and
// by the persistence layer's loader through the access API.
module;
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>
export module instadump:btree_build;
import :pnode;
import :btree_nodes;
import :btree_value;

export namespace instadump::detail {

template <class K, class V>
class btree_bulk {
  using nodes = btree_nodes<K, V>;
  using leaf = typename nodes::leaf;
  using ref = node_ref<nodes>;

 public:
  // The key of the last entry added, or null if none was.
  const K* last_key() const noexcept {
    if (current_ && current_->count() > 0) return &current_->get()->keys[current_->count() - 1];
    if (!done_.empty()) return &nodes::last_key(done_.back().get());
    return nullptr;
  }

  // Appends an entry. REQUIRES: `key` is above last_key() (the caller
  // checks, and says what is wrong if it is not).
  template <class KK, class VV>
  void add(KK&& key, VV&& value) {
    if (!current_) current_.emplace();
    current_->add(std::forward<KK>(key), std::forward<VV>(value));
    if (current_->count() == nodes::leaf_max) close_leaf();
  }

  // The tree of everything added (null root if nothing was).
  tree_root<K, V> finish() && {
    if (current_ && current_->count() > 0) close_leaf();
    if (done_.empty()) return tree_root<K, V>();
    even_out_last_leaves();
    std::vector<ref> level = std::move(done_);
    while (level.size() > 1) level = parents_of(level);
    return tree_root<K, V>(level[0].release());
  }

 private:
  void close_leaf() {
    done_.emplace_back();
    done_.back() = ref::adopt(current_->finish());
    current_.reset();
  }

  // The last leaf is under half full: it and the (full) leaf before it get
  // half of their entries each.
  void even_out_last_leaves() {
    std::size_t n = done_.size();
    if (n < 2 || done_[n - 1].get()->count >= nodes::leaf_min) return;
    const leaf* a = nodes::as_leaf(done_[n - 2].get());
    const leaf* b = nodes::as_leaf(done_[n - 1].get());
    std::size_t half = (a->count + b->count) / 2u;  // below a->count: a is full, b under half
    typename nodes::leaf_builder x, y;
    x.copy(a, 0, half);
    y.copy(a, half, a->count);
    y.copy(b, 0, b->count);
    done_[n - 2] = ref::adopt(x.finish());
    done_[n - 1] = ref::adopt(y.finish());
  }

  // One level of branches over `level` (two or more nodes of one height).
  static std::vector<ref> parents_of(std::vector<ref>& level) {
    std::size_t n = level.size();
    std::size_t groups = (n + nodes::branch_max - 1) / nodes::branch_max;
    std::vector<std::size_t> ends;  // exclusive end of each group
    for (std::size_t g = 1; g <= groups; ++g) ends.push_back(std::min(n, g * nodes::branch_max));
    if (groups >= 2 && n - ends[groups - 2] < nodes::branch_min) {
      std::size_t start = ends[groups - 2] - nodes::branch_max;
      ends[groups - 2] = start + (n - start) / 2u;
    }
    auto height = static_cast<std::uint8_t>(level[0].get()->height + 1);
    std::vector<ref> out;
    out.reserve(groups);
    std::size_t begin = 0;
    for (std::size_t end : ends) {
      typename nodes::branch_builder b(height);
      for (std::size_t j = begin; j < end; ++j) {
        if (j > begin) b.separator(nodes::first_key(level[j].get()));
        b.adopt(level[j].get());
      }
      out.push_back(ref::adopt(b.finish()));
      for (std::size_t j = begin; j < end; ++j) level[j].release();
      begin = end;
    }
    return out;
  }

  std::optional<typename nodes::leaf_builder> current_;
  std::vector<ref> done_;  // finished leaves, in order
};

}  // namespace instadump::detail
