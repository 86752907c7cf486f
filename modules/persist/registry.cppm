// The state registry: which refs are durable state, under which key, and how
// their values are encoded.
//
// Each state ref is registered under a stable key (its fully qualified C++
// name, e.g. "shop::orders") with a codec that converts its value to and from
// a Cap'n Proto message, and the identity (fingerprint + version) of the
// schema that codec writes. instadump-codegen generates these registrations;
// they can also be written by hand:
//
//   instadump::ref<long> visits{0};
//   instadump::state_registration<long> visits_reg(
//       visits, "shop::visits", {0x1234abcd, 1}, {&encode_visits, &decode_visits});
//
// A registration lives as long as its state_registration object (normally a
// static, so: the whole program). Registering after setup() loads the ref's
// saved value right away.
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/errors.h"
#include "storage/chunked_members_codec.h"
#include "storage/snapshot_store.h"
#include "storage/snapshot_types.h"
export module instadump:registry;
import :version;
import :ref_core;
import :ref;
import :chunk_sink;
import :chunk_deltas;
import :chunked_state;
import :chunked_vector_state;
import :chunked_members;

export namespace instadump {

// Which schema, and which version of it, a value is written with.
using storage::schema_identity;

// The room state_codec::encode_words gets, in words.
inline constexpr std::size_t max_encoded_words = 8;

// Converts a T to and from a Cap'n Proto message.
template <class T>
struct state_codec {
  // Writes `value` as the root of `message`. May throw; the save then fails.
  void (*encode)(const T& value, capnp::MessageBuilder& message) = nullptr;
  // Reads a value from `message`, which was written with schema `stored`
  // (this build's schema, an older version of it, or a newer compatible
  // one). Throws (any std::exception) when it cannot: the load then fails as
  // a whole and names the ref.
  T (*decode)(capnp::MessageReader& message, const schema_identity& stored) = nullptr;
  // Optional, for a small value of fixed layout (instadump-codegen sets it
  // for states of scalar type): writes into `out` (max_encoded_words long)
  // exactly the words `encode` would build -- the root pointer, then the
  // root struct -- and returns how many; 0 if it cannot. A save then needs
  // no MessageBuilder. The first save of each state in a process checks it
  // against `encode` and, should they differ, uses `encode` only.
  std::size_t (*encode_words)(const T& value, std::span<capnp::word> out) = nullptr;
};

}  // namespace instadump

namespace instadump::detail {

// What a save of a state stored node by node builds on: left by its last
// save or load (tracked_state keeps it).
struct chunk_basis {
  const version_base* previous = nullptr;  // the value saved or loaded last
  const version_base* tree = nullptr;      // the value whose tree(s) the chunks hold
  chunk_history history;
  std::span<const chunk_history> member_histories;  // a struct state's, by member
};

// What decode_chunked and decode_chunked_members give besides the value
// (see there).
struct chunk_loaded {
  chunk_history history;
  std::vector<chunk_history> member_histories;  // a struct state's, by member
};

// A registered state, type-erased: its key, schema and codec. (What a
// session knows about it -- where its value is stored -- is the session's:
// see tracked_state in session_impl.cppm.)
class state_entry {
 public:
  state_entry(std::string key, schema_identity schema, std::string_view schema_source,
              std::span<const std::string_view> previous_keys = {})
      : key_(std::move(key)), schema_(schema), schema_source_(schema_source),
        previous_keys_(previous_keys.begin(), previous_keys.end()) {}
  virtual ~state_entry() = default;
  state_entry(const state_entry&) = delete;
  state_entry& operator=(const state_entry&) = delete;

  inline const std::string& key() const noexcept { return key_; }
  inline const schema_identity& schema() const noexcept { return schema_; }
  // Cap'n Proto schema text the codec writes (empty if not given).
  inline std::string_view schema_source() const noexcept { return schema_source_; }
  // Keys this state had before it was renamed, oldest first.
  inline const std::vector<std::string>& previous_keys() const noexcept { return previous_keys_; }

  // The ref (a plain pointer, so that save_all's scan of every state makes
  // no virtual call).
  inline const ref_core& core() const noexcept { return *core_; }
  virtual void encode(const version_base& v, capnp::MessageBuilder& message) const = 0;
  // Whether the codec has encode_words (see state_codec).
  inline bool has_encode_words() const noexcept { return has_encode_words_; }
  // The codec's encode_words (see state_codec); 0 without one.
  virtual std::size_t encode_words(const version_base& v, std::span<capnp::word> out) const = 0;
  // A new version (one hold, stamp 0) holding the decoded value.
  virtual version_base* decode(capnp::MessageReader& message, const schema_identity& stored) const = 0;
  // A new version (one hold, stamp 0) holding a copy of the state's default:
  // the ref's value when it was registered. Null when T cannot be copied.
  virtual version_base* copy_default() const = 0;
  // Calls `listener` after every commit that changes the ref (empty: stop).
  virtual void set_commit_listener(std::function<void()> listener) = 0;

  // Whether the state's type is a collection saved node by node (pmap,
  // pset, pvector: see chunked_state.cppm, chunked_vector_state.cppm). The
  // three calls below are for those.
  inline bool chunked() const noexcept { return chunked_; }
  // Adds to `sink` what saving `v` node by node writes, building on
  // `basis` (what the state's last save or load left); returns its
  // descriptor (all 0: `v` is empty, stored as a plain value) and the
  // basis's history after it.
  virtual chunked_save encode_chunked(const version_base& v, const chunk_basis& basis, std::uint64_t epoch,
                                      chunk_sink& sink) const;
  // A new version (one hold, stamp 0) holding the value the descriptor `d`
  // names; the nodes it has of the stored tree are tagged (epoch, chunk
  // id). With `out`, also the history a basis needs (the value is its tree
  // too: see chunked_load).
  virtual version_base* decode_chunked(const chunk_payloads::descriptor& d, const storage::chunk_source& chunks,
                                       std::uint64_t epoch, chunk_loaded* out) const;
  // Whether the state is a struct whose members are stored node by node
  // (chunked_members.cppm): its values are ChunkedMembers, not descriptors.
  inline bool chunked_members() const noexcept { return chunked_members_; }
  // How many chunk epochs a save or load of the state uses, from the one
  // it is given on: one per member for a struct state stored member by
  // member, else 1 (chunk_sink::set_epoch).
  inline std::uint64_t chunk_owners() const noexcept { return chunk_owners_; }
  // A new version (one hold, stamp 0) holding the value `stored` (written
  // under `schema`) describes; tagged as decode_chunked's. With `out`, also
  // each member's history.
  virtual version_base* decode_chunked_members(storage::chunked_members_value& stored,
                                               const schema_identity& schema, const storage::chunk_source& chunks,
                                               std::uint64_t epoch, chunk_loaded* out) const;

 protected:
  const ref_core* core_ = nullptr;  // set by the typed subclass
  bool has_encode_words_ = false;   // set by the typed subclass
  bool chunked_ = false;            // set by the typed subclass
  bool chunked_members_ = false;    // set by the typed subclass
  std::uint64_t chunk_owners_ = 1;  // set by the typed subclass

 private:
  std::string key_;
  schema_identity schema_;
  std::string_view schema_source_;  // static storage (generated code)
  std::vector<std::string> previous_keys_;
};

template <class T>
class typed_state final : public state_entry {
  static constexpr bool stores_members = requires { chunked_traits<T>::members; };

 public:
  typed_state(ref<T>& r, std::string key, schema_identity schema, state_codec<T> codec,
              std::string_view schema_source, std::span<const std::string_view> previous_keys)
      : state_entry(std::move(key), schema, schema_source, previous_keys), ref_(r), codec_(codec),
        default_(r.pin()) {
    core_ = &ref_.core();
    has_encode_words_ = codec_.encode_words != nullptr;
    chunked_ = chunked_traits<T>::chunked;
    chunked_members_ = stores_members;
    if constexpr (stores_members) chunk_owners_ = chunked_traits<T>::chunks::count;
  }

  void encode(const version_base& v, capnp::MessageBuilder& message) const override {
    codec_.encode(static_cast<const version<T>&>(v).value, message);
  }
  std::size_t encode_words(const version_base& v, std::span<capnp::word> out) const override {
    return codec_.encode_words ? codec_.encode_words(static_cast<const version<T>&>(v).value, out) : 0;
  }
  version_base* decode(capnp::MessageReader& message, const schema_identity& stored) const override {
    return new version<T>(0, codec_.decode(message, stored));
  }
  version_base* copy_default() const override {
    if constexpr (std::is_copy_constructible_v<T>) {
      return new version<T>(0, *default_);
    } else {
      return nullptr;
    }
  }
  chunked_save encode_chunked(const version_base& v, const chunk_basis& basis, std::uint64_t epoch,
                              chunk_sink& sink) const override {
    if constexpr (chunked_traits<T>::chunked) {
      const auto value_of = [](const version_base* x) { return x ? &static_cast<const version<T>&>(*x).value : nullptr; };
      const auto& history = [&]() -> const auto& {  // (a struct state's: one per member)
        if constexpr (stores_members) {
          return basis.member_histories;
        } else {
          return basis.history;
        }
      }();
      return chunked_traits<T>::chunks::save(static_cast<const version<T>&>(v).value, value_of(basis.previous),
                                             value_of(basis.tree), history, epoch, schema(), codec_.encode, sink);
    } else {
      return state_entry::encode_chunked(v, basis, epoch, sink);
    }
  }
  version_base* decode_chunked(const chunk_payloads::descriptor& d, const storage::chunk_source& chunks,
                               std::uint64_t epoch, chunk_loaded* out) const override {
    if constexpr (chunked_traits<T>::chunked && !stores_members) {
      chunked_load<T> got = chunked_traits<T>::chunks::load(d, chunks, epoch, codec_.decode);
      if (out) out->history = got.history;
      return new version<T>(0, std::move(got.value));
    } else {
      return state_entry::decode_chunked(d, chunks, epoch, out);
    }
  }
  version_base* decode_chunked_members(storage::chunked_members_value& stored, const schema_identity& schema,
                                       const storage::chunk_source& chunks, std::uint64_t epoch,
                                       chunk_loaded* out) const override {
    if constexpr (stores_members) {
      auto got = chunked_traits<T>::chunks::load(stored, schema, chunks, epoch, codec_.decode);
      if (out) out->member_histories = std::move(got.member_histories);
      return new version<T>(0, std::move(got.value));
    } else {
      return state_entry::decode_chunked_members(stored, schema, chunks, epoch, out);
    }
  }
  void set_commit_listener(std::function<void()> listener) override {
    if (listener) {
      ref_.add_watch("instadump.autosave", [l = std::move(listener)](const T&, const T&) { l(); });
    } else {
      ref_.remove_watch("instadump.autosave");
    }
  }

 private:
  ref<T>& ref_;
  state_codec<T> codec_;
  // The value at registration, which is what a program starts with: what
  // reload_all() gives the state when the snapshot predates it.
  pinned<T> default_;
};

// Adds `entry` to the registry (and loads its saved value when a store is
// open). Throws error if the key is already registered.
void register_state(state_entry* entry);
void unregister_state(state_entry* entry) noexcept;

}  // namespace instadump::detail

export namespace instadump {

// Registers `r` as durable state under `key` for as long as this object
// lives. Throws instadump::error if another live registration uses `key`.
// The ref's value now is the state's default: what reload_all() of a
// snapshot that does not hold the state sets it to (a copy; the registration
// keeps that value alive).
//
// `schema_source`, when given, is the Cap'n Proto schema text that describes
// what the codec writes; it is stored with the snapshots (once per distinct
// fingerprint) so that stored data can be read without the program.
//
// `previous_keys` are keys the state was stored under before it was renamed
// (oldest first): a snapshot without a value under `key` loads the value
// stored under the newest previous key, and the next save stores it under
// `key` only.
// REQUIRES: `r` outlives this object; encode and decode are set;
// `schema_source` has static storage duration.
template <class T>
class state_registration {
 public:
  state_registration(ref<T>& r, std::string_view key, schema_identity schema, state_codec<T> codec,
                     std::string_view schema_source = {}, std::span<const std::string_view> previous_keys = {})
      : entry_(r, std::string(key), schema, codec, schema_source, previous_keys) {
    r.set_name(key);
    detail::register_state(&entry_);
  }
  ~state_registration() { detail::unregister_state(&entry_); }
  state_registration(const state_registration&) = delete;
  state_registration& operator=(const state_registration&) = delete;

 private:
  detail::typed_state<T> entry_;
};

}  // namespace instadump
