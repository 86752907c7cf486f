// pvector<T>: a persistent vector.
//
//   instadump::pvector<std::string> a;
//   auto b = a.push_back("x").push_back("y");   // a is still empty
//   auto c = b.set(0, "z");                     // b is unchanged
//   for (const std::string& s : c) ...
//
// An immutable value with structural sharing, like pmap: a 32-way trie of
// full leaves plus a tail leaf for the last elements (see trie_nodes.cppm),
// so indexing is a few shifts and loads, push_back touches only the tail
// (and every 32nd one a path of the trie), and a copy is O(1).
module;
#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <utility>
export module instadump:pvector;
import :pnode;
import :trie_nodes;
import :trie;
import :collection_errors;

export namespace instadump {

template <class T>
class transient_pvector;

namespace detail {
template <class T>
struct pvector_access;
}  // namespace detail

// A vector of T, immutable, with structural sharing. T must be copyable.
// Thread safety and exceptions as for pmap: any number of threads may read
// and copy pvectors at once, and a change that throws changes nothing.
template <class T>
class pvector {
  using value = detail::trie_value<T>;
  using nodes = detail::trie_nodes<T>;

 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = const T&;
  using const_reference = const T&;

  // A forward iterator over the elements in order. Valid while the vector
  // it came from (or any copy of it) is alive.
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = const T&;
    using pointer = const T*;

    iterator() noexcept = default;
    const T& operator*() const noexcept { return items_[i_ & nodes::mask]; }
    const T* operator->() const noexcept { return &items_[i_ & nodes::mask]; }
    iterator& operator++() noexcept {
      if ((++i_ & nodes::mask) == 0) items_ = value::items_for(root_, tail_, tail_offset_, i_);
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }

   private:
    friend class pvector;
    iterator(const value& v, std::uint64_t i) noexcept
        : root_(v.root()), tail_(v.tail()), tail_offset_(v.tail_offset()), i_(i), items_(v.items_for(i)) {}
    const detail::node_header* root_ = nullptr;
    const detail::node_header* tail_ = nullptr;
    std::uint64_t tail_offset_ = 0;
    std::uint64_t i_ = 0;
    const T* items_ = nullptr;  // the leaf that holds element i_
  };
  using const_iterator = iterator;

  // An empty vector. Allocates nothing.
  pvector() noexcept = default;
  pvector(std::initializer_list<T> items) : pvector(items.begin(), items.end()) {}
  // The elements [first, last), appended in place through a transient.
  template <std::input_iterator It, std::sentinel_for<It> End>
  pvector(It first, End last) {
    transient_pvector<T> t = transient();
    for (; first != last; ++first) t.push_back(*first);
    *this = std::move(t).persistent();
  }

  // O(1): the copy shares every node.
  pvector(const pvector&) noexcept = default;
  pvector(pvector&&) noexcept = default;
  pvector& operator=(const pvector&) noexcept = default;
  pvector& operator=(pvector&&) noexcept = default;
  ~pvector() = default;
  void swap(pvector& o) noexcept { v_.swap(o.v_); }

  size_type size() const noexcept { return v_.size(); }
  bool empty() const noexcept { return v_.size() == 0; }

  // Element i. REQUIRES: i < size() (checked by an assert; at() checks
  // always). O(log32 n), no comparisons.
  const T& operator[](size_type i) const noexcept {
    assert(i < size() && "pvector::operator[]: index out of range");
    return v_.get(i);
  }
  // Element i; throws instadump::index_out_of_range if i >= size().
  const T& at(size_type i) const {
    if (i >= size()) detail::throw_index_out_of_range("at", i, size());
    return v_.get(i);
  }
  // The last element. REQUIRES: !empty().
  const T& back() const noexcept { return (*this)[size() - 1]; }

  // A vector with `x` appended. On an rvalue whose nodes no other vector
  // shares (`v = std::move(v).push_back(x)`), appends in place.
  [[nodiscard]] pvector push_back(T x) const& { return pvector(*this).changed([&](value& v) { v.push_back(std::move(x)); }); }
  [[nodiscard]] pvector push_back(T x) && { return std::move(*this).changed([&](value& v) { v.push_back(std::move(x)); }); }

  // A vector without its last element. Throws instadump::index_out_of_range
  // if it is empty.
  [[nodiscard]] pvector pop_back() const& { return pvector(*this).pop_back_in_place("pop_back"); }
  [[nodiscard]] pvector pop_back() && { return std::move(*this).pop_back_in_place("pop_back"); }

  // A vector with element i replaced by `x`. Throws
  // instadump::index_out_of_range if i >= size().
  [[nodiscard]] pvector set(size_type i, T x) const& { return pvector(*this).set_in_place(i, std::move(x)); }
  [[nodiscard]] pvector set(size_type i, T x) && { return std::move(*this).set_in_place(i, std::move(x)); }

  iterator begin() const noexcept { return iterator(v_, 0); }
  iterator end() const noexcept { return iterator(v_, v_.size()); }

  // A transient holding this vector's elements (see transient_pvector). O(1).
  transient_pvector<T> transient() const& { return transient_pvector<T>(v_); }
  transient_pvector<T> transient() && { return transient_pvector<T>(std::move(v_)); }

  // Same elements in the same order (compared with ==).
  friend bool operator==(const pvector& a, const pvector& b)
    requires std::equality_comparable<T>
  {
    if (a.size() != b.size()) return false;
    if (a.v_.root() == b.v_.root() && a.v_.tail() == b.v_.tail()) return true;
    for (iterator i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
      if (!(*i == *j)) return false;
    }
    return true;
  }

 private:
  friend class transient_pvector<T>;
  friend struct detail::pvector_access<T>;

  explicit pvector(value v) noexcept : v_(std::move(v)) {}

  template <class F>
  pvector changed(F f) && {
    f(v_);
    return std::move(*this);
  }
  pvector pop_back_in_place(const char* op) && {
    if (empty()) detail::throw_index_out_of_range(op, 0, 0);
    v_.pop_back();
    return std::move(*this);
  }
  pvector set_in_place(size_type i, T&& x) && {
    if (i >= size()) detail::throw_index_out_of_range("set", i, size());
    v_.assign(i, std::move(x));
    return std::move(*this);
  }

  value v_;
};

// A vector being changed in place: appending many elements costs about what
// a std::vector's push_back does, not a new vector each. The rules of
// transient_pmap apply: made by pvector::transient(), one thread at a time,
// move-only; ended by persistent() (O(1)), after which every member
// function throws instadump::transient_consumed. A reference from
// operator[] is valid until the next change.
template <class T>
class transient_pvector {
  using value = detail::trie_value<T>;
  static constexpr const char* name = "transient_pvector";

 public:
  transient_pvector(transient_pvector&& o) noexcept : v_(std::move(o.v_)), live_(std::exchange(o.live_, false)) {}
  transient_pvector& operator=(transient_pvector&& o) noexcept {
    v_ = std::move(o.v_);
    live_ = std::exchange(o.live_, false);
    return *this;
  }

  transient_pvector& push_back(T x) {
    live("push_back").push_back(std::move(x));
    return *this;
  }
  // Throws instadump::index_out_of_range if empty.
  transient_pvector& pop_back() {
    value& v = live("pop_back");
    if (v.size() == 0) detail::throw_index_out_of_range("pop_back", 0, 0);
    v.pop_back();
    return *this;
  }
  // Throws instadump::index_out_of_range if i >= size().
  transient_pvector& set(std::size_t i, T x) {
    value& v = live("set");
    if (i >= v.size()) detail::throw_index_out_of_range("set", i, v.size());
    v.assign(i, std::move(x));
    return *this;
  }
  // Throws instadump::index_out_of_range if i >= size().
  const T& operator[](std::size_t i) const {
    const value& v = const_cast<transient_pvector*>(this)->live("operator[]");
    if (i >= v.size()) detail::throw_index_out_of_range("operator[]", i, v.size());
    return v.get(i);
  }
  std::size_t size() const { return const_cast<transient_pvector*>(this)->live("size").size(); }
  bool empty() const { return size() == 0; }

  // Ends the transient and returns the vector it built. O(1).
  [[nodiscard]] pvector<T> persistent() && {
    value& v = live("persistent");
    live_ = false;
    return pvector<T>(std::move(v));
  }

 private:
  friend class pvector<T>;
  explicit transient_pvector(value v) noexcept : v_(std::move(v)) {}

  value& live(const char* op) {
    if (!live_) detail::throw_transient_consumed(name, op);
    return v_;
  }

  value v_;
  bool live_ = true;
};

}  // namespace instadump
