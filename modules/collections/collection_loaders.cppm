// collection_loaders: building a pmap or pset from entries decoded one by
// one, in the order a snapshot holds them.
//
// Not for applications: generated codecs use them to load a collection
// stored as one list (whole-value encoding, which is also how a std::map or
// std::set is stored, so that a state switched from one to the other loads
// its old snapshots). Entries in strictly increasing key order -- what a
// pmap, pset, std::map or std::set writes -- go straight into full nodes
// with one move each (pmap_access::bulk_builder); from the first entry out
// of that order on -- an unordered_map's or unordered_set's snapshot -- the
// rest are inserted one by one through a transient. A repeated key is
// reported (add returns false), never silently merged.
module;
#include <cstddef>
#include <optional>
#include <utility>
export module instadump:collection_loaders;
import :pmap;
import :pset;
import :btree_access;

export namespace instadump::detail {

template <class K, class V>
class pmap_loader {
 public:
  // Adds an entry; returns false (and adds nothing) if `key` was added before.
  bool add(K key, V value) {
    if (!unordered_) {
      if (sorted_.accepts(key)) {
        sorted_.add(std::move(key), std::move(value));
        return true;
      }
      unordered_.emplace(std::move(sorted_).finish().transient());
    }
    if (unordered_->contains(key)) return false;
    unordered_->insert(std::move(key), std::move(value));
    return true;
  }
  pmap<K, V> finish() && { return unordered_ ? std::move(*unordered_).persistent() : std::move(sorted_).finish(); }

 private:
  typename pmap_access<K, V>::bulk_builder sorted_;
  std::optional<transient_pmap<K, V>> unordered_;  // set at the first key out of order
};

template <class K>
class pset_loader {
 public:
  // Adds a key; returns false (and adds nothing) if it was added before.
  bool add(K key) {
    if (!unordered_) {
      if (sorted_.accepts(key)) {
        sorted_.add(std::move(key));
        return true;
      }
      unordered_.emplace(std::move(sorted_).finish().transient());
    }
    if (unordered_->contains(key)) return false;
    unordered_->insert(std::move(key));
    return true;
  }
  pset<K> finish() && { return unordered_ ? std::move(*unordered_).persistent() : std::move(sorted_).finish(); }

 private:
  typename pset_access<K>::bulk_builder sorted_;
  std::optional<transient_pset<K>> unordered_;
};

}  // namespace instadump::detail
