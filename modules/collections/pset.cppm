// pset<K>: a persistent ordered set.
//
//   instadump::pset<std::string> a;
//   auto b = a.insert("x");                  // a is still empty
//   for (const std::string& k : b) ...      // in order (std::less<K>)
//
// The same B+-tree as pmap, with keys only; see pmap.cppm for what
// "persistent" buys and costs.
module;
#include <concepts>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <utility>

#include "common/errors.h"
export module instadump:pset;
import :pnode;
import :btree_nodes;
import :btree;
import :btree_cursor;
import :btree_value;
import :btree_build;
import :collection_errors;

export namespace instadump {

template <class K>
class transient_pset;

namespace detail {
template <class K>
struct pset_access;
}  // namespace detail

// An ordered set of K, immutable, with structural sharing. K must be
// copyable and ordered by std::less<K>. Thread safety and exceptions as for
// pmap.
template <class K>
class pset {
  using tree = detail::btree<K, detail::no_value>;
  using cursor = detail::btree_cursor<K, detail::no_value>;

 public:
  using key_type = K;
  using value_type = K;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = const K&;

  // A forward iterator over the keys in order. Valid while the set it came
  // from (or any copy of it) is alive.
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = K;
    using difference_type = std::ptrdiff_t;
    using reference = const K&;
    using pointer = const K*;

    iterator() noexcept = default;
    const K& operator*() const noexcept { return c_.key(); }
    const K* operator->() const noexcept { return &c_.key(); }
    iterator& operator++() noexcept {
      c_.next();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      c_.next();
      return before;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.c_ == b.c_; }

   private:
    friend class pset;
    explicit iterator(const cursor& c) noexcept : c_(c) {}
    cursor c_;
  };
  using const_iterator = iterator;

  struct key_range {
    iterator first, last;
    iterator begin() const noexcept { return first; }
    iterator end() const noexcept { return last; }
  };

  // An empty set. Allocates nothing.
  pset() noexcept = default;

  // A set of `keys` (duplicates count once).
  pset(std::initializer_list<K> keys) {
    transient_pset<K> t = transient();
    for (const K& k : keys) t.insert(k);
    *this = std::move(t).persistent();
  }

  // A set of the keys [first, last), which must be strictly increasing
  // (e.g. a std::set's); builds full nodes bottom-up, copying each key once.
  // Throws instadump::invalid_option, naming the position, otherwise.
  template <std::input_iterator It, std::sentinel_for<It> End>
  static pset from_sorted(It first, End last) {
    detail::btree_bulk<K, detail::no_value> bulk;
    for (std::size_t i = 0; first != last; ++first, ++i) {
      const K& key = *first;
      const K* before = bulk.last_key();
      if (before && !std::less<K>{}(*before, key)) {
        throw invalid_option("pset::from_sorted(): key " + std::to_string(i) + " (" + detail::describe_key(key) +
                             ") is not above the key before it; the keys must be strictly increasing");
      }
      bulk.add(key, detail::no_value{});
    }
    return pset(std::move(bulk).finish());
  }

  // O(1): the copy shares every node.
  pset(const pset&) noexcept = default;
  pset(pset&&) noexcept = default;
  pset& operator=(const pset&) noexcept = default;
  pset& operator=(pset&&) noexcept = default;
  ~pset() = default;
  void swap(pset& o) noexcept { std::swap(t_, o.t_); }

  size_type size() const noexcept { return t_.size(); }
  bool empty() const noexcept { return t_.get() == nullptr; }
  bool contains(const K& key) const { return tree::nodes::find(t_.get(), key) != nullptr; }

  // A set with `key` (this set, shared, if it has it already). O(log n).
  // On an rvalue whose nodes no other set shares, changes them in place.
  [[nodiscard]] pset insert(K key) const& {
    detail::make_no_value make;
    return pset(tree::upserted(t_.get(), key, make, false));
  }
  [[nodiscard]] pset insert(K key) && {
    detail::make_no_value make;
    tree::upsert(t_.slot(), key, make, false);
    return std::move(*this);
  }

  // A set without `key` (this set, shared, if it does not have it).
  [[nodiscard]] pset erase(const K& key) const& { return pset(tree::erased(t_.get(), key)); }
  [[nodiscard]] pset erase(const K& key) && {
    tree::erase(t_.slot(), key);
    return std::move(*this);
  }

  iterator begin() const noexcept { return iterator(t_.first()); }
  iterator end() const noexcept { return iterator(cursor()); }
  // The first key not below `key` (end() if none).
  iterator lower_bound(const K& key) const { return iterator(t_.seek(key, false)); }
  // The first key above `key` (end() if none).
  iterator upper_bound(const K& key) const { return iterator(t_.seek(key, true)); }
  // The keys in [from, to), in order (empty unless from < to).
  key_range range(const K& from, const K& to) const {
    iterator first = lower_bound(from);
    if (!std::less<K>{}(from, to)) return {first, first};
    return {first, lower_bound(to)};
  }

  // A transient holding this set's keys (see transient_pset). O(1).
  transient_pset<K> transient() const& { return transient_pset<K>(t_); }
  transient_pset<K> transient() && { return transient_pset<K>(std::move(t_)); }

  friend bool operator==(const pset& a, const pset& b)
    requires std::equality_comparable<K>
  {
    return a.t_.equal(b.t_, [](const cursor&, const cursor&) { return true; });
  }

 private:
  friend class transient_pset<K>;
  friend struct detail::pset_access<K>;

  explicit pset(detail::tree_root<K, detail::no_value> t) noexcept : t_(std::move(t)) {}
  explicit pset(detail::node_header* root) noexcept : t_(root) {}

  detail::tree_root<K, detail::no_value> t_;
};

// A set being changed in place; the rules of transient_pmap apply (one
// thread, move-only, ended by persistent(), then every call throws
// instadump::transient_consumed).
template <class K>
class transient_pset {
  using tree = detail::btree<K, detail::no_value>;
  static constexpr const char* name = "transient_pset";

 public:
  transient_pset(transient_pset&&) noexcept = default;
  transient_pset& operator=(transient_pset&&) noexcept = default;

  transient_pset& insert(K key) {
    detail::make_no_value make;
    tree::upsert(t_.slot(name, "insert"), key, make, false);
    return *this;
  }
  transient_pset& erase(const K& key) {
    tree::erase(t_.slot(name, "erase"), key);
    return *this;
  }
  bool contains(const K& key) const { return tree::nodes::find(t_.get(name, "contains"), key) != nullptr; }
  std::size_t size() const {
    const detail::node_header* root = t_.get(name, "size");
    return root ? root->size : 0;
  }
  bool empty() const { return t_.get(name, "empty") == nullptr; }

  // Ends the transient and returns the set it built. O(1).
  [[nodiscard]] pset<K> persistent() && { return pset<K>(t_.end(name)); }

 private:
  friend class pset<K>;
  explicit transient_pset(detail::tree_root<K, detail::no_value> from) noexcept : t_(std::move(from)) {}

  detail::transient_root<K, detail::no_value> t_;
};

}  // namespace instadump
