// pmap<K, V>: a persistent ordered map.
//
//   instadump::pmap<std::string, int> a;
//   auto b = a.set("x", 1);                  // a is still empty; b shares what it can with a
//   if (const int* v = b.find("x")) ...      // nullptr if absent
//   for (const auto& [k, v] : b) ...         // in key order (std::less<K>)
//
// A pmap is an immutable value: every change returns a new map and leaves
// the old one exactly as it was, sharing all nodes the change did not touch
// (a B+-tree with path copying; see btree.cppm). So a change costs
// O(log n) whatever the size, a copy is O(1), and any number of versions can
// be kept and read by any number of threads at once. It is what to keep in an
// instadump::ref when the value is a big map that transactions change a few
// entries at a time.
module;
#include <concepts>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>

#include "common/errors.h"
export module instadump:pmap;
import :pnode;
import :btree_nodes;
import :btree;
import :btree_cursor;
import :btree_value;
import :btree_build;
import :collection_errors;

export namespace instadump {

template <class K, class V>
class transient_pmap;

namespace detail {
template <class K, class V>
struct pmap_access;
}  // namespace detail

// An ordered map from K to V, immutable, with structural sharing.
//
// K must be copyable and ordered by std::less<K>; V copyable. Both may be
// any such type, other persistent collections included.
//
// Thread safety: a pmap may be read, copied and destroyed by any number of
// threads at once, and versions sharing nodes may live on different threads;
// assigning to one pmap object while another thread reads that same object
// is a data race, as for any C++ value.
//
// Exceptions: a change that throws (an allocation, a copy of K or V, a
// comparison, `f` of update()) leaves every map unchanged and leaks nothing.
template <class K, class V>
class pmap {
  using tree = detail::btree<K, V>;
  using cursor = detail::btree_cursor<K, V>;

 public:
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<const K, V>;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  // Entries are stored key and value apart (a search reads only keys), so
  // dereferencing an iterator gives a pair of references, not a reference
  // to a pair: `for (const auto& [k, v] : m)` and `it->first` work as with
  // std::map; `std::pair<const K, V>& e = *it` does not.
  using reference = std::pair<const K&, const V&>;

  // A forward iterator over entries in key order. Valid while the map it
  // came from (or any copy of it) is alive.
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = pmap::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = pmap::reference;
    struct pointer {
      reference entry;
      const reference* operator->() const noexcept { return &entry; }
    };

    iterator() noexcept = default;
    reference operator*() const noexcept { return {c_.key(), c_.value()}; }
    pointer operator->() const noexcept { return pointer{**this}; }
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
    friend class pmap;
    explicit iterator(const cursor& c) noexcept : c_(c) {}
    cursor c_;
  };
  using const_iterator = iterator;

  // The entries [first, last) of a map: what range() returns.
  struct entry_range {
    iterator first, last;
    iterator begin() const noexcept { return first; }
    iterator end() const noexcept { return last; }
  };

  // An empty map. Allocates nothing.
  pmap() noexcept = default;

  // A map of `entries`; of equal keys the first wins, as in std::map.
  pmap(std::initializer_list<std::pair<K, V>> entries) {
    transient_pmap<K, V> t = transient();
    for (const auto& [k, v] : entries) t.insert(k, v);
    *this = std::move(t).persistent();
  }

  // A map of the entries [first, last), which must be pairs (key, value) in
  // strictly increasing key order (e.g. a std::map's); builds full nodes
  // bottom-up, copying each entry once: much faster than setting them one by
  // one. Throws instadump::invalid_option, naming the position, if a key is
  // not above the one before it.
  template <std::input_iterator It, std::sentinel_for<It> End>
  static pmap from_sorted(It first, End last) {
    detail::btree_bulk<K, V> bulk;
    for (std::size_t i = 0; first != last; ++first, ++i) {
      auto&& [key, value] = *first;
      const K* before = bulk.last_key();
      if (before && !std::less<K>{}(*before, key)) {
        throw invalid_option("pmap::from_sorted(): the key of entry " + std::to_string(i) + " (" +
                             detail::describe_key(static_cast<const K&>(key)) +
                             ") is not above the key before it; the entries must be in strictly increasing key order");
      }
      bulk.add(key, value);
    }
    return pmap(std::move(bulk).finish());
  }

  // O(1): the copy shares every node.
  pmap(const pmap&) noexcept = default;
  pmap(pmap&&) noexcept = default;
  pmap& operator=(const pmap&) noexcept = default;
  pmap& operator=(pmap&&) noexcept = default;
  ~pmap() = default;
  void swap(pmap& o) noexcept { std::swap(t_, o.t_); }

  size_type size() const noexcept { return t_.size(); }
  bool empty() const noexcept { return t_.get() == nullptr; }

  // The value of `key`, or nullptr if the map has no such key. The pointer
  // is valid while this map (or a copy of it) is alive. O(log n).
  const V* find(const K& key) const { return tree::nodes::find(t_.get(), key); }

  // The value of `key`. Throws instadump::key_not_found, showing the key
  // when it is a number or a string, if the map has no such key.
  const V& at(const K& key) const {
    if (const V* v = find(key)) return *v;
    throw key_not_found("pmap::at(): no entry with key " + detail::describe_key(key) + " (the map has " +
                        std::to_string(size()) + " entries)");
  }

  bool contains(const K& key) const { return find(key) != nullptr; }

  // A map with `key` mapped to `value` (added, or replacing the value; the
  // stored key is kept). O(log n). Called on an rvalue whose nodes no other
  // map shares (`m = std::move(m).set(k, v)`), it changes them in place.
  [[nodiscard]] pmap set(K key, V value) const& {
    auto make = [&](const V*) -> V&& { return std::move(value); };
    return pmap(tree::upserted(t_.get(), key, make, true));
  }
  [[nodiscard]] pmap set(K key, V value) && {
    auto make = [&](const V*) -> V&& { return std::move(value); };
    tree::upsert(t_.slot(), key, make, true);
    return std::move(*this);
  }

  // A map without `key` (this map, shared, if it has no such key). O(log n).
  [[nodiscard]] pmap erase(const K& key) const& { return pmap(tree::erased(t_.get(), key)); }
  [[nodiscard]] pmap erase(const K& key) && {
    tree::erase(t_.slot(), key);
    return std::move(*this);
  }

  // A map with `key` mapped to f(its value). If the key is absent, f is
  // called with a value-initialized V (V{}) and the entry is added, as
  // `m[key] = f(m[key])` would with a std::map; so V must be
  // default-constructible. f is called exactly once; if it throws, nothing
  // changes. The pattern for many writers of one big map in a ref:
  //   r.commute([k](const auto& m) { return m.update(k, [](long n) { return n + 1; }); });
  template <class F>
    requires std::is_invocable_r_v<V, F&, const V&> && std::default_initializable<V>
  [[nodiscard]] pmap update(K key, F&& f) const& {
    auto make = updater(f);
    return pmap(tree::upserted(t_.get(), key, make, true));
  }
  template <class F>
    requires std::is_invocable_r_v<V, F&, const V&> && std::default_initializable<V>
  [[nodiscard]] pmap update(K key, F&& f) && {
    auto make = updater(f);
    tree::upsert(t_.slot(), key, make, true);
    return std::move(*this);
  }

  iterator begin() const noexcept { return iterator(t_.first()); }
  iterator end() const noexcept { return iterator(cursor()); }
  // The first entry whose key is not below `key` (end() if none).
  iterator lower_bound(const K& key) const { return iterator(t_.seek(key, false)); }
  // The first entry whose key is above `key` (end() if none).
  iterator upper_bound(const K& key) const { return iterator(t_.seek(key, true)); }
  // The entries with keys in [from, to), in order (empty unless from < to).
  entry_range range(const K& from, const K& to) const {
    iterator first = lower_bound(from);
    if (!std::less<K>{}(from, to)) return {first, first};
    return {first, lower_bound(to)};
  }

  // A transient holding this map's entries, for many changes in a row
  // without a new map each time (see transient_pmap). O(1).
  transient_pmap<K, V> transient() const& { return transient_pmap<K, V>(t_); }
  transient_pmap<K, V> transient() && { return transient_pmap<K, V>(std::move(t_)); }

  // Same entries (keys and values compare equal with ==), in O(1) when the
  // two share their root.
  friend bool operator==(const pmap& a, const pmap& b)
    requires std::equality_comparable<K> && std::equality_comparable<V>
  {
    return a.t_.equal(b.t_, [](const cursor& x, const cursor& y) { return x.value() == y.value(); });
  }

 private:
  friend class transient_pmap<K, V>;
  friend struct detail::pmap_access<K, V>;

  explicit pmap(detail::tree_root<K, V> t) noexcept : t_(std::move(t)) {}
  explicit pmap(detail::node_header* root) noexcept : t_(root) {}

  template <class F>
  static auto updater(F& f) {
    return [&f](const V* current) -> V { return current ? V(std::invoke(f, *current)) : V(std::invoke(f, V{})); };
  }

  detail::tree_root<K, V> t_;
};

// A map being changed in place: many changes in a row cost what the changes
// cost, not a new map each. Made by pmap::transient(); ended by
// persistent(), which returns the map in O(1):
//
//   auto t = m.transient();
//   for (auto& [k, v] : updates) t.set(k, v);
//   m = std::move(t).persistent();
//
// The transient changes in place the nodes only it holds and copies a node
// shared with a map (the one it came from, or others) once, on the first
// change under it; maps made before or from it are never changed.
//
// Not thread-safe: one thread at a time. A pointer from find() is valid
// until the next change. Move-only. After persistent() (or being moved
// from), every member function throws instadump::transient_consumed.
// Exceptions: a change that throws leaves the transient as it was.
template <class K, class V>
class transient_pmap {
  using tree = detail::btree<K, V>;
  static constexpr const char* name = "transient_pmap";

 public:
  transient_pmap(transient_pmap&&) noexcept = default;
  transient_pmap& operator=(transient_pmap&&) noexcept = default;

  // As pmap::set.
  transient_pmap& set(K key, V value) {
    auto make = [&](const V*) -> V&& { return std::move(value); };
    tree::upsert(t_.slot(name, "set"), key, make, true);
    return *this;
  }
  // Adds the entry if `key` is absent; does nothing if it is present.
  transient_pmap& insert(K key, V value) {
    auto make = [&](const V*) -> V&& { return std::move(value); };
    tree::upsert(t_.slot(name, "insert"), key, make, false);
    return *this;
  }
  // As pmap::erase.
  transient_pmap& erase(const K& key) {
    tree::erase(t_.slot(name, "erase"), key);
    return *this;
  }
  // As pmap::update (an absent key gets f(V{})).
  template <class F>
    requires std::is_invocable_r_v<V, F&, const V&> && std::default_initializable<V>
  transient_pmap& update(K key, F&& f) {
    auto make = pmap<K, V>::updater(f);
    tree::upsert(t_.slot(name, "update"), key, make, true);
    return *this;
  }

  const V* find(const K& key) const { return tree::nodes::find(t_.get(name, "find"), key); }
  bool contains(const K& key) const { return find(key) != nullptr; }
  std::size_t size() const {
    const detail::node_header* root = t_.get(name, "size");
    return root ? root->size : 0;
  }
  bool empty() const { return t_.get(name, "empty") == nullptr; }

  // Ends the transient and returns the map it built. O(1).
  [[nodiscard]] pmap<K, V> persistent() && { return pmap<K, V>(t_.end(name)); }

 private:
  friend class pmap<K, V>;
  explicit transient_pmap(detail::tree_root<K, V> from) noexcept : t_(std::move(from)) {}

  detail::transient_root<K, V> t_;
};

}  // namespace instadump
