// save_all: one consistent snapshot of every registered state, written as
// what changed since the newest snapshot.
//
// A save reads (one read-only transaction takes every state's stamp and
// holds the versions that changed since saved: writers never wait or
// retry), encodes the changed values outside any transaction
// (value_encoding.h), has the store write them in one durable write, and
// then records in each state's saved slot where its value is now stored.
// The store is told only what changed relative to the newest snapshot; after
// a reload of an older one it is given the whole set instead.
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <array>
#include <chrono>
#include <deque>
#include <optional>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "common/errors.h"
#include "common/thread_safety.h"
#include "persist/value_encoding.h"
#include "replication/replicator.h"
#include "storage/snapshot_store.h"
module instadump;
import :session_impl;

namespace instadump::detail {
namespace {

// A reference to the stored value `e`, to store under its own key.
storage::kept_value kept_of(const entry_info& e) {
  return storage::kept_value{e.key,    e.schema, e.blob_id, e.offset,       e.size_bytes,
                             e.checksum, e.framed, e.key_id,  e.chunk_roots};
}

// A reference to the stored value of `s`, to store under `key` (which must
// outlive the save).
storage::kept_value kept_of(const saved_slot& s, std::string_view key) {
  return storage::kept_value{key,        s.schema, s.blob_id, s.offset, s.size_bytes,
                             s.checksum, s.framed, s.under_own_key ? s.key_id : 0, s.chunk_roots};
}

// What a save's read point found: each state's stamp and, for the states
// that changed since they were saved, their version, held until the save is
// written.
struct read_values {
  std::vector<version_base*> versions;  // null: unchanged since saved or loaded
  std::vector<std::uint64_t> stamps;

  read_values() = default;
  read_values(const read_values&) = delete;
  read_values& operator=(const read_values&) = delete;
  ~read_values() { release(); }

  void release() noexcept {
    for (version_base*& v : versions) {
      if (v) v->release();
      v = nullptr;
    }
  }
};

// Reads every state at one read point: a read-only transaction never
// retries and never blocks writers. Holds the versions that changed since
// they were saved, so they outlive it; of the others only the stamp is
// needed. (The reads are not logged: this transaction never calls retry().)
void read_states(std::span<const tracked_state> states, read_values& out) {
  out.versions.assign(states.size(), nullptr);
  out.stamps.assign(states.size(), 0);
  dosync([&] {
    const std::uint64_t rp = require_transaction("save_all").current_read_point();
    out.release();  // (a repeated attempt)
    for (std::size_t i = 0; i < states.size(); ++i) {
      const ref_core& r = states[i].entry->core();
      out.stamps[i] = r.stamp_at(rp);
      const saved_slot& s = states[i].saved;
      if (s.valid && s.stamp == out.stamps[i] && s.schema == states[i].entry->schema()) continue;
      out.versions[i] = r.version_at(rp);
      out.versions[i]->hold();
    }
  });
}

// The words of `v` as the codec of `t` writes them itself (encode_words),
// kept by `encoder`; empty when it does not. The first time for each state
// they are checked against what its encode builds: a codec whose two differ
// is used through encode only from then on.
kj::ArrayPtr<const capnp::word> direct_words(encoding::value_encoder& encoder, tracked_state& t,
                                             const version_base& v) {
  const state_entry& e = *t.entry;
  const kj::ArrayPtr<const capnp::word> words =
      encoder.encode_words([&](std::span<capnp::word> out) { return e.encode_words(v, out); }, max_encoded_words);
  if (t.words == words_check::unchecked) {
    capnp::MallocMessageBuilder message(2 * max_encoded_words);
    e.encode(v, message);
    const auto segments = message.getSegmentsForOutput();
    const bool agree = words.size() != 0 && segments.size() == 1 && segments[0].size() == words.size() &&
                       std::memcmp(segments[0].begin(), words.begin(), words.size() * sizeof(capnp::word)) == 0;
    t.words = agree ? words_check::agree : words_check::not_used;
    if (!agree) return {};
  }
  return words;
}

// Fills in `value`, the new value of state `t`, with its version `v`: large
// values go straight into the store's pages, in room sized from their last
// encoding (the last save's, or a measuring one now); small ones are copied
// there from `encoder`. Returns whether the codec wrote the words itself.
bool encode_value(storage::new_value& value, tracked_state& t, const version_base* v,
                  encoding::value_encoder& encoder) {
  const state_entry* e = t.entry;
  const saved_slot& s = t.saved;
  value.key = e->key();
  value.schema = e->schema();
  value.key_id = s.valid && s.under_own_key ? s.key_id : 0;
  bool as_words = false;
  std::size_t large_bytes = s.valid && s.size_bytes >= encoding::kInPlaceBytes ? s.size_bytes : 0;
  if (large_bytes == 0) {
    kj::ArrayPtr<const capnp::word> segment;
    if (t.words != words_check::not_used) {
      segment = direct_words(encoder, t, *v);
      as_words = segment.size() != 0;
    }
    if (segment.size() == 0) {
      const auto encoded =
          encoder.encode([&](capnp::MessageBuilder& m) { e->encode(*v, m); }, s.valid ? s.size_bytes : 0, e->key());
      large_bytes = encoded.large_bytes;
      segment = encoded.segment;
    }
    if (large_bytes == 0) {
      value.size_bytes = segment.size() * sizeof(capnp::word);
      value.bytes = std::as_bytes(std::span(segment.begin(), segment.size()));
    }
  }
  if (large_bytes != 0) {
    value.size_bytes = encoding::room_for(large_bytes);
    value.fill_in_place = [e, v](std::span<std::byte> room) -> std::size_t {
      return encoding::encode_in_place([&](capnp::MessageBuilder& m) { e->encode(*v, m); }, room, e->key());
    };
  }
  return as_words;
}

// The chunks a save writes for the states saved node by node, the
// descriptors that are those states' values (alive until the write
// returns), and what each state's basis becomes once the store took them.
struct chunked_values {
  struct saved_state {
    std::size_t state;  // index in the session's tracked states
    chunk_history history;
    bool tree_saved;
    std::vector<chunk_history> member_histories;  // a struct state's (chunked_save)
    held_version members_tree;                    // likewise
  };
  std::optional<chunk_sink> sink;  // made for the first such state that changed
  std::deque<std::array<capnp::word, chunk_payloads::descriptor_words>> descriptors;
  std::deque<kj::Array<capnp::word>> member_values;  // of struct states (chunked_members.cppm)
  std::vector<saved_state> saved;
};

// Fills in `value`, the new value of state `t` (states[i], saved node by
// node), with its version `v`: what it writes goes to `out`'s sink, its
// bytes are its descriptor. Returns false, having done nothing, when the
// value is empty: it is then encoded as usual.
bool encode_chunked_value(storage::new_value& value, std::size_t i, tracked_state& t, const version_base* v,
                          std::uint64_t epoch, storage::snapshot_store& store, chunked_values& out) {
  if (!out.sink) out.sink.emplace(store.next_chunk_id());
  out.sink->set_epoch(epoch);
  chunked_save s = t.entry->encode_chunked(*v, t.basis(), epoch, *out.sink);
  // (An empty value: no history, nothing to refer to.)
  out.saved.push_back({i, s.history, s.tree_saved, std::move(s.member_histories), std::move(s.members_tree)});
  std::span<const capnp::word> bytes;
  if (s.members_value.size() != 0) {
    const kj::Array<capnp::word>& words = out.member_values.emplace_back(kj::mv(s.members_value));
    bytes = std::span<const capnp::word>(words.begin(), words.size());
    value.chunk_roots = std::move(s.members_roots);
  } else {
    if (s.d.root == 0 && s.d.tail == 0) return false;
    auto& words = out.descriptors.emplace_back();
    bytes = std::span<const capnp::word>(words).first(chunk_payloads::write_descriptor(words, s.d));
    value.chunk_roots = chunk_payloads::roots_of(s.d);
  }
  value.key = t.entry->key();
  value.schema = t.entry->schema();
  value.key_id = t.saved.valid && t.saved.under_own_key ? t.saved.key_id : 0;
  value.size_bytes = bytes.size_bytes();
  value.bytes = std::as_bytes(bytes);
  return true;
}

}  // namespace

save_result session::save(const save_options& options) {
  lock_guard lock(op_mu_);
  store_or_throw("save_all");
  return save_locked(options.durable.value_or(options_.durable));
}

save_result session::save_locked(bool durable) {
  if (store_->read_only() || follower_) {
    throw read_only_session("instadump::save_all: this is a read-only session (setup_options::read_only) of \"" +
                            store_->directory().string() + "\", which never writes the store; save from the "
                            "writer process, or set up without read_only where this process may write");
  }
  auto started = std::chrono::steady_clock::now();
  if (replicator_) replicator_->before_save();  // a fenced writer saves nothing more
  std::vector<tracked_state>& states = tracked_;
  // Commits before this point are covered by this save; later ones count
  // towards the next autosave.
  std::uint64_t commits_covered = commits_since_save_.load(std::memory_order_relaxed);
  read_values read;
  read_states(states, read);

  save_result result;
  // Building on the newest snapshot, the store needs to hear only what
  // changed; otherwise (nothing saved yet, or the base is an older snapshot
  // reloaded) every value, unclaimed ones included.
  const bool delta = base_is_newest_ && base_id_ != 0;
  storage::snapshot_delta changes;
  changes.entry_keys = false;          // ours are states[put_state[p]].entry->key()
  std::vector<std::size_t> put_state;  // index in `states` of each put value (unclaimed ones: none)
  changes.put.reserve(states.size() + (delta ? 0 : unclaimed_.size()));
  put_state.reserve(states.size());
  // (Shared: an async replication's sender ships from its memory after we
  // return.)
  const auto encoder = std::make_shared<encoding::value_encoder>();
  chunked_values chunked;
  for (std::size_t i = 0; i < states.size(); ++i) {
    tracked_state& t = states[i];
    if (!read.versions[i]) {  // unchanged since saved or loaded
      if (!(delta && t.saved.under_own_key)) {
        changes.put.emplace_back(kept_of(t.saved, t.entry->key()));
        put_state.push_back(i);
      }
      continue;
    }
    // (Built in place: a save of many small values should not move each.)
    auto& value = std::get<storage::new_value>(changes.put.emplace_back(std::in_place_type<storage::new_value>));
    if (!(t.entry->chunked() && encode_chunked_value(value, i, t, read.versions[i], chunk_epoch_of(t), *store_, chunked)) &&
        encode_value(value, t, read.versions[i], *encoder)) {
      ++result.refs_written_as_words;
    }
    put_state.push_back(i);
    ++result.refs_written;
  }
  // Unclaimed values stay as they are: in the base already when building on
  // it, carried explicitly otherwise. (A value under a renamed state's
  // previous key has moved to its new key: it is not in unclaimed_.)
  result.unclaimed = unclaimed_.size();
  if (delta) {
    changes.remove.assign(pending_remove_.begin(), pending_remove_.end());
  } else {
    for (const auto& [key, info] : unclaimed_) changes.put.emplace_back(kept_of(info));
  }

  const std::vector<storage::schema_record> schemas = schemas_to_store(put_state);
  if (chunked.sink) {
    changes.chunks = chunked.sink->chunks();
    changes.chunks_sealed_here = true;  // encoded and sealed just now, by the sink
  }
  // The replication ships what changed from the bytes still in memory (the
  // encoder's) rather than reading them back.
  replication::saved_snapshot saved;
  if (replicator_) {
    saved.bytes_owner = encoder;
    saved.base_id = delta ? base_id_ : 0;
    saved.removed = changes.remove;
    saved.schemas = schemas;  // (rarely any: each is stored once per directory)
    saved.keys.reserve(changes.put.size());
    saved.bytes.reserve(changes.put.size());
    for (const auto& v : changes.put) {
      saved.keys.push_back(std::visit([](const auto& x) { return x.key; }, v));
      const auto* n = std::get_if<storage::new_value>(&v);
      // (Those of values saved node by node are descriptors, not the
      // encoder's; the shipper reads such values from the store anyway.)
      if (n && !n->fill && !n->fill_in_place && n->chunk_roots.empty()) {
        saved.bytes.emplace_back(n->bytes);
      } else {
        saved.bytes.emplace_back(std::nullopt);
      }
    }
  }
  // A sync replicated save flushes the local snapshot while PostgreSQL
  // writes it (replicator::after_save), rather than before.
  const bool flush_while_shipping = durable && replicator_ && replicator_->ships_on_save();
  storage::snapshot_info info;
  try {
    info = store_->write_snapshot(delta ? base_id_ : 0, std::move(changes), durable && !flush_while_shipping,
                                  schemas);
  } catch (...) {
    for (const auto& r : schemas) schemas_stored_.erase(r.fingerprint);
    throw;
  }
  base_id_ = info.id;  // unclaimed_ stays: the new snapshot carries exactly those
  base_is_newest_ = true;
  pending_remove_.clear();
  commits_since_save_.fetch_sub(commits_covered, std::memory_order_relaxed);
  if (chunked.sink) {  // the store holds the chunks now: their nodes may be referred to
    chunked.sink->tag_written();
    result.chunks_written = chunked.sink->count();
    result.bytes_written += chunked.sink->bytes();
  }

  // info.entries are those of the put values, in order.
  for (std::size_t p = 0; p < put_state.size(); ++p) {
    const std::size_t i = put_state[p];
    if (read.versions[i]) result.bytes_written += info.entries[p].size_bytes;  // written anew
    states[i].saved = saved_slot::of(read.stamps[i], info.entries[p], true);
  }
  // (Every changed state saved node by node is in chunked.saved.)
  for (chunked_values::saved_state& c : chunked.saved) {
    tracked_state& t = states[c.state];
    t.chunk_base.hold(read.versions[c.state]);
    if (c.tree_saved) t.chunk_tree.hold(read.versions[c.state]);
    if (c.members_tree.get()) t.chunk_tree = std::move(c.members_tree);
    t.chunk_stored = c.history;
    t.member_stored = std::move(c.member_histories);
  }
  result.snapshot_id = info.id;
  result.refs = states.size();
  result.total_bytes = info.total_bytes;
  // sync: returns once the snapshot is durable here and PostgreSQL
  // committed it (else throws, the snapshot saved locally and the session's
  // bookkeeping above done; save_failed if it could not be made durable);
  // async: wakes the sender.
  if (replicator_) {
    saved.info = std::move(info);  // (not used past this point)
    if (flush_while_shipping) {
      storage::snapshot_store& store = *store_;  // (the lambda runs within this call, under op_mu_)
      replicator_->after_save(std::move(saved), [&store] { store.make_durable(); });
    } else {
      replicator_->after_save(std::move(saved));
    }
  }
  result.duration = std::chrono::steady_clock::now() - started;
  return result;
}

// Each schema is stored once per directory, so that data stays readable
// without the program -- with the values written now only: an unchanged
// value had its schema stored when it was written.
std::vector<storage::schema_record> session::schemas_to_store(std::span<const std::size_t> put) {
  std::vector<storage::schema_record> schemas;
  for (std::size_t i : put) {
    const state_entry* e = tracked_[i].entry;
    std::uint64_t fp = e->schema().fingerprint;
    if (e->schema_source().empty() || schemas_stored_.count(fp)) continue;
    if (store_->get_schema(fp)) {
      schemas_stored_.insert(fp);
      continue;
    }
    auto bytes = std::as_bytes(std::span(e->schema_source().data(), e->schema_source().size()));
    schemas.push_back(storage::schema_record{fp, std::vector<std::byte>(bytes.begin(), bytes.end())});
    schemas_stored_.insert(fp);
  }
  return schemas;
}

}  // namespace instadump::detail

namespace instadump {

save_result save_all() { return save_all(save_options{}); }

save_result save_all(const save_options& options) {
  detail::refuse_inside_transaction("save_all");
  return detail::session::get().save(options);
}

}  // namespace instadump
