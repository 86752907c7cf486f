// What the snapshot directory holds, for users and tools: snapshots(),
// stored_schema(), unclaimed_keys() and drop_unclaimed(), and
// check_value_decodes() and check_chunked_value_decodes() (a stored value
// through this program's codec, without touching any ref).
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.h"
#include "common/thread_safety.h"
#include "storage/chunk_format.h"
#include "storage/chunked_members_codec.h"
#include "storage/manifest_codec.h"
#include "storage/snapshot_store.h"
#include "storage/value_message.h"
module instadump;
import :session_impl;

namespace instadump::detail {
namespace {

// The descriptor `words` are, when they are the stored bytes of a collection
// saved node by node (unframed: the store writes descriptors so) and
// `entry` is such a collection's state; else nullopt (a value stored whole,
// decoded by the codec).
std::optional<chunk_payloads::descriptor> chunked_descriptor(const state_entry& entry,
                                                             kj::ArrayPtr<const capnp::word> words, bool framed) {
  if (!entry.chunked() || framed || (words.size() != 4 && words.size() != 5)) return std::nullopt;
  try {
    return chunk_payloads::read_descriptor(words, entry.key());
  } catch (const corrupt_data&) {
    return std::nullopt;  // not a descriptor's shape: a value of 4 words stored whole
  }
}

// The value `words` are, when they are the stored bytes of a struct state
// whose members are stored node by node (ChunkedMembers) and `entry` is such
// a state; else null. (Without the value's chunk roots, which tell the load
// which it is, a value stored whole that parses as ChunkedMembers would be
// taken for one: its chunks would then be missing or not decode, which is
// reported.)
std::unique_ptr<storage::chunked_members_value> chunked_members_of(const state_entry& entry,
                                                                   kj::ArrayPtr<const capnp::word> words,
                                                                   bool framed) {
  if (!entry.chunked_members() || framed || !storage::holds_chunked_members(words)) return nullptr;
  try {
    return std::make_unique<storage::chunked_members_value>(words, entry.key());
  } catch (const corrupt_data&) {
    return nullptr;  // a value stored whole
  }
}

// The state registered under `key` (or renamed from it), for the
// check_*_decodes verbs; throws error naming `verb` when there is none.
state_entry& entry_for(const std::vector<state_entry*>& registered, std::string_view key, const char* verb) {
  state_entry* entry = nullptr;
  for (state_entry* e : registered) {
    const auto& previous = e->previous_keys();
    if (e->key() == key || std::find(previous.begin(), previous.end(), key) != previous.end()) entry = e;
  }
  if (!entry) {
    throw error("instadump::" + std::string(verb) + ": no state is registered under the key '" + std::string(key) +
                "'");
  }
  return *entry;
}

// Chunks the caller hands over (check_chunked_value_decodes), verified as
// a store verifies its own.
class given_chunks final : public storage::chunk_source {
 public:
  given_chunks(const std::function<std::span<const std::byte>(std::uint64_t)>& chunk, std::string what)
      : chunk_(chunk), what_(std::move(what)) {}

  storage::chunk_view get(std::uint64_t id) const override {
    const std::span<const std::byte> bytes = chunk_(id);
    if (bytes.empty()) throw corrupt_data("chunk " + std::to_string(id) + ", which " + what_ + " refers to, is missing");
    return storage::parse_chunk(bytes, id, what_);
  }

 private:
  const std::function<std::span<const std::byte>(std::uint64_t)>& chunk_;
  std::string what_;
};

load_failed does_not_decode(std::string_view key, const std::string& why) {
  return load_failed("instadump: the value of ref '" + std::string(key) + "' does not decode (" + why + ")");
}

}  // namespace

std::vector<snapshot_info> session::list() {
  lock_guard lock(op_mu_);
  return store_or_throw("snapshots").list_snapshots();
}

std::vector<std::string> session::unclaimed() {
  lock_guard lock(op_mu_);
  store_or_throw("unclaimed_keys");
  std::vector<std::string> out;
  for (const auto& [key, info] : unclaimed_) out.push_back(key);
  return out;
}

std::optional<std::string> session::schema_text(std::uint64_t fingerprint) {
  lock_guard lock(op_mu_);
  auto bytes = store_or_throw("stored_schema").get_schema(fingerprint);
  if (!bytes) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

bool session::drop(std::string_view key) {
  lock_guard lock(op_mu_);
  store_or_throw("drop_unclaimed");
  auto it = unclaimed_.find(key);
  if (it == unclaimed_.end()) return false;
  dropped_.insert(it->first);
  pending_remove_.insert(it->first);
  unclaimed_.erase(it);
  return true;
}

void session::check_decodes(std::string_view key, std::span<const std::byte> bytes, const schema_identity& stored,
                            bool framed) {
  state_entry* entry = &entry_for(registered(), key, "check_value_decodes");
  // Stored values are whole words; a trailing partial word is not part of any.
  storage::aligned_words words(bytes.first(bytes.size() - bytes.size() % sizeof(capnp::word)));
  version_base* v = nullptr;
  try {
    const auto d = chunked_descriptor(*entry, words.words(), framed);
    const auto members = d ? nullptr : chunked_members_of(*entry, words.words(), framed);
    if (d || members) {
      // Stored node by node: the bytes name chunks, which only the store has.
      lock_guard op(op_mu_);
      const std::string what = "value '" + std::string(key) + "'";
      if (!store_) {
        throw load_failed("it is a collection stored node by node, whose chunks are in the store: call "
                          "setup() on its directory first");
      }
      // (Tags of epoch 0 match no session's: the nodes are discarded anyway.)
      store_->read_chunks(what, [&](const storage::chunk_source& chunks) {
        v = d ? entry->decode_chunked(*d, chunks, 0, nullptr)
              : entry->decode_chunked_members(*members, stored, chunks, 0, nullptr);
      });
    } else {
      storage::value_message message(words.words(), framed, storage::reader_options_for(words.words().size()));
      v = entry->decode(message.reader(), stored);
    }
  } catch (const std::exception& ex) {
    throw does_not_decode(key, ex.what());
  } catch (const kj::Exception& ex) {
    throw does_not_decode(key, ex.getDescription().cStr());
  }
  v->release();
}

void session::check_chunked_decodes(std::string_view key, std::span<const std::byte> descriptor,
                                    const std::function<std::span<const std::byte>(std::uint64_t)>& chunk) {
  state_entry& entry = entry_for(registered(), key, "check_chunked_value_decodes");
  if (!entry.chunked()) {
    throw error("instadump::check_chunked_value_decodes: the state '" + std::string(key) +
                "' is not a pmap, pset or pvector, whose values are stored node by node");
  }
  storage::aligned_words words(descriptor.first(descriptor.size() - descriptor.size() % sizeof(capnp::word)));
  version_base* v = nullptr;
  try {
    const std::string what = "value '" + std::string(key) + "'";
    given_chunks chunks(chunk, what);
    if (entry.chunked_members()) {  // (epoch 0: the tags match no session's)
      storage::chunked_members_value members(words.words(), what);
      v = entry.decode_chunked_members(members, entry.schema(), chunks, 0, nullptr);
    } else {
      v = entry.decode_chunked(chunk_payloads::read_descriptor(words.words(), what), chunks, 0, nullptr);
    }
  } catch (const std::exception& ex) {
    throw does_not_decode(key, ex.what());
  } catch (const kj::Exception& ex) {
    throw does_not_decode(key, ex.getDescription().cStr());
  }
  v->release();
}

}  // namespace instadump::detail

namespace instadump {

std::vector<snapshot_info> snapshots() { return detail::session::get().list(); }

std::vector<std::string> unclaimed_keys() { return detail::session::get().unclaimed(); }

std::optional<std::string> stored_schema(std::uint64_t fingerprint) {
  return detail::session::get().schema_text(fingerprint);
}

bool drop_unclaimed(std::string_view key) { return detail::session::get().drop(key); }

void check_value_decodes(std::string_view key, std::span<const std::byte> bytes, schema_identity stored,
                         bool framed) {
  detail::session::get().check_decodes(key, bytes, stored, framed);
}

void check_chunked_value_decodes(std::string_view key, std::span<const std::byte> descriptor,
                                 const std::function<std::span<const std::byte>(std::uint64_t id)>& chunk) {
  detail::session::get().check_chunked_decodes(key, descriptor, chunk);
}

}  // namespace instadump
