// Durable snapshots of all registered state: setup, save_all, reload_all.
//
//   instadump::setup("db");            // open (or create) the directory, load the newest snapshot
//   ...                                // transactions change state refs
//   instadump::save_all();             // one consistent, durable snapshot of every state ref
//   instadump::reload_all();           // revert to the newest snapshot (all refs or none)
//
// The store keeps the newest `keep_generations` snapshots. A value is
// written only when its ref changed since the previous snapshot, so a save
// costs what changed, not the whole state. Values stored under keys that no
// registered ref claims (state removed from the program, or a library not
// loaded yet) are carried into every later snapshot until drop_unclaimed().
//
// All functions here are thread-safe and may run while other threads run
// transactions; saving never blocks a writer and never makes one retry.
module;
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "replication/replication_options.h"
#include "storage/snapshot_types.h"
export module instadump:session;

// Replication to PostgreSQL (README, "Beyond one machine"): the types of
// setup_options::replicate and replication_status(), declared in
// replication/replication_options.h.
export namespace instadump::replication {
using instadump::replication::async;
using instadump::replication::options;
using instadump::replication::send_mode;
using instadump::replication::status;
using instadump::replication::sync;
}  // namespace instadump::replication

export namespace instadump {

using storage::entry_info;
using storage::snapshot_info;

// Background saving. Off unless `every` or `after_commits` is set.
struct autosave_options {
  // Save this often. Default: never on a timer.
  std::chrono::milliseconds every{0};
  // Save after this many commits that changed state refs. Default: off.
  std::uint64_t after_commits = 0;
  // Save once more in shutdown() (and at normal program exit). Default: true.
  bool save_on_shutdown = true;
  // Called (on the autosave thread) with every failed autosave. Default:
  // print the error to stderr. Failures are never silently dropped. After a
  // failure the next try waits 50 ms, doubling with each further failure up
  // to 5 s, so a lasting fault (a full disk) is not retried in a busy loop.
  std::function<void(const std::exception& failure)> on_error;
};

// Called for each snapshot that setup() or reload_all() skips (with
// fall_back_to_older_snapshots), with the reason.
using skipped_snapshot_callback = std::function<void(std::uint64_t snapshot_id, const std::exception& why)>;

struct setup_options {
  // A read-only session: for any number of processes that read the state
  // of one writer process (which sets up without it) as typed values. setup()
  // opens the existing store in `dir` without locking or writing anything
  // (a missing store is open_failed: a reader does not create one) and loads
  // its newest snapshot, including those the writer has only in its journal
  // so far; reload_all() catches up with the writer's newest. save_all()
  // throws read_only_session, and so does setup() when autosave is set.
  // Readers never block or slow the writer, which need not know of them,
  // and see only whole snapshots. Default: false (the one writer).
  // With replicate.url set, the source is the replicated copy in PostgreSQL
  // instead, and `dir` a local cache of it (see replication::options,
  // "Readers").
  bool read_only = false;
  // Snapshots to keep (the newest ones); reload_all(id) reaches all of them.
  // At least 1. Default: 2.
  unsigned keep_generations = 2;
  // Whether save_all() (without options) waits until the snapshot is on
  // stable storage (fsync). Default: true. With false, a snapshot survives a
  // crash of the process but may be lost (never damaged) when the machine
  // crashes.
  bool durable = true;
  autosave_options autosave;
  // Load this snapshot instead of the newest. Default: the newest.
  std::optional<std::uint64_t> load_snapshot;
  // When the snapshot to load cannot be restored (damaged, undecodable), load
  // the newest older one that can, instead of failing; each skipped snapshot
  // is reported to on_skipped_snapshot (default: stderr). Default: false
  // (setup fails and names the problem).
  bool fall_back_to_older_snapshots = false;
  skipped_snapshot_callback on_skipped_snapshot;
  // Called when a ref registered after setup() (e.g. from a library loaded
  // with dlopen) cannot be loaded; the ref keeps its default. Default: print
  // to stderr.
  std::function<void(const std::string& key, const std::exception& failure)> on_late_load_error;
  // Replicate every snapshot to PostgreSQL (off unless replicate.url is
  // set): the writer's lease, sync or async shipping, restore of an empty
  // directory from the newest replicated snapshot, standby takeover. See
  // replication::options and README "Beyond one machine".
  replication::options replicate;
};

// How reload_all() treats a snapshot that cannot be restored: as
// setup_options' fields of the same names do.
struct reload_options {
  // When the snapshot to load cannot be restored (damaged, undecodable,
  // rejected by a validator), load the newest older one that can, instead of
  // failing; each skipped snapshot is reported to on_skipped_snapshot
  // (default: stderr). Default: false (reload_all fails and changes nothing).
  bool fall_back_to_older_snapshots = false;
  skipped_snapshot_callback on_skipped_snapshot;
};

struct save_options {
  // Overrides setup_options::durable for this save.
  std::optional<bool> durable;
};

// What a save_all() wrote.
struct save_result {
  std::uint64_t snapshot_id = 0;
  std::size_t refs = 0;            // registered refs in the snapshot
  std::size_t refs_written = 0;    // of those, changed since the previous snapshot (encoded and written)
  // Of refs_written, those whose codec wrote the value word by word itself
  // (state_codec::encode_words) instead of through a MessageBuilder.
  std::size_t refs_written_as_words = 0;
  std::size_t unclaimed = 0;       // values carried over for keys no registered ref claims
  std::uint64_t bytes_written = 0; // bytes of newly written values (and of the chunks below)
  // Chunks written: the new nodes of pmap/pset states, which are saved
  // node by node (their bytes count in bytes_written).
  std::size_t chunks_written = 0;
  std::uint64_t total_bytes = 0;   // bytes of all values the snapshot refers to
  std::chrono::nanoseconds duration{0};
};

// Opens (creating if needed, mode 0700) the snapshot directory `dir` and
// loads its newest snapshot into every registered ref; refs missing from it
// keep their defaults. Starts autosave if configured. `dir` must be missing,
// empty, or a store: a directory holding anything else is refused, so that
// a wrong path never mixes the store with other files.
//
// With options.read_only, opens an existing store without writing it (see
// setup_options::read_only).
//
// Throws open_failed / locked_by_other_process when the directory cannot be
// used (see their documentation; open_failed also for a directory that holds
// files but no store, and read-only for one without a store),
// read_only_session for a read-only session with autosave, corrupt_data or
// load_failed when the newest snapshot cannot be restored (nothing is
// changed, the directory is closed again: set fall_back_to_older_snapshots
// or load_snapshot, or fix the cause),
// invalid_option when keep_generations is 0, and instadump::error when
// already set up (call shutdown() first).
void setup(const std::filesystem::path& dir, const setup_options& options = {});

// Saves one consistent snapshot of every registered ref (all values as of one
// instant) plus the unclaimed values of the previous snapshot, in one
// durable write. Returns what was saved.
//
// Throws instadump::error before setup() or inside a transaction (it would
// see the transaction's uncommitted writes); read_only_session in a
// read-only session (setup_options::read_only); save_failed when writing fails
// (the previous snapshots are intact, and a later save can succeed unless the
// message says the store must be reopened: shutdown(), then setup()); whatever a
// codec throws.
save_result save_all();
save_result save_all(const save_options& options);

// Reverts every registered ref to its value in the newest snapshot (or in
// snapshot `snapshot_id`), in one transaction: watchers see one commit. A
// ref the snapshot does not hold (its state was added later) takes its
// default, as it would at setup() in a new process: its value when it was
// registered (it keeps its value if its type cannot be copied). Returns the
// id of the snapshot loaded.
//
// Decodes everything first: if any ref cannot be restored (damaged,
// undecodable, incompatible schema, rejected by its validator), throws an
// error naming the ref, the snapshot and the reason, and changes nothing --
// or, with options.fall_back_to_older_snapshots, tries the next older
// snapshot (reporting the one skipped) and fails only when none restores.
// Throws instadump::error before setup() or inside a transaction, load_failed
// when there is no such snapshot. In a read-only session, loads the writer's
// newest (journaled ones included): how a reader catches up.
std::uint64_t reload_all();
std::uint64_t reload_all(std::uint64_t snapshot_id);
std::uint64_t reload_all(const reload_options& options);
std::uint64_t reload_all(std::uint64_t snapshot_id, const reload_options& options);

// The stored snapshots, newest first. Throws instadump::error before setup().
std::vector<snapshot_info> snapshots();

// Keys in the snapshot last loaded or saved that no registered ref claims.
std::vector<std::string> unclaimed_keys();

// Stops carrying the unclaimed value stored under `key` into new snapshots
// (it disappears with the older generations). Returns whether there was one.
bool drop_unclaimed(std::string_view key);

// Stops autosave (saving once more if so configured) and closes the store.
// Refs keep their values. No-op when not set up.
void shutdown();

// The schema text stored with the snapshots for `fingerprint` (see
// state_registration), or nullopt. Throws instadump::error before setup().
std::optional<std::string> stored_schema(std::uint64_t fingerprint);

// Decodes `bytes`, a stored value of the state registered under `key` (or
// under one of its previous keys) written with schema `stored`, with this
// program's codec -- migrations included -- and discards the result: what
// setup() and reload_all() would do with it, without touching any ref or
// the store. `bytes` is a Cap'n Proto message in the standard framing
// (capnp::messageToFlatArray) or, with framed = false, one unframed segment
// (how the store keeps values it writes; see entry_info::framed). Needs no
// setup(). Throws load_failed naming the key and the reason when the value
// does not decode, and error when no state is registered under `key`. For
// tools that check stored data, and for fuzzing.
// A pmap, pset or pvector state's value stored node by node (entry_info::
// chunk_roots not empty; its bytes, unframed, are a descriptor of chunks) is
// built from the chunks of the store setup() opened, which must be the one
// it came from; without setup() it throws load_failed saying so. So is a
// struct state's value whose members are stored node by node (its bytes
// are ChunkedMembers: chunked_members<S>).
void check_value_decodes(std::string_view key, std::span<const std::byte> bytes, storage::schema_identity stored,
                         bool framed = true);

// check_value_decodes() of a pmap, pset or pvector state's value stored node
// by node, with its chunks handed over instead of read from a store:
// `descriptor` is the value's stored bytes (a descriptor of chunks) and
// `chunk(id)` returns chunk `id` as the store keeps it (what
// storage::encode_chunk writes: 8-byte aligned, verified here like a stored
// chunk -- size, checksum, id), or an empty span when there is no such chunk.
// Needs no setup(). Throws load_failed naming the key and the reason when the
// value does not decode (a missing or damaged chunk, a chunk of the wrong
// kind, a tree whose shape or order is wrong), and error when no state is
// registered under `key` or it is not a collection stored node by node. For
// a struct state with members stored node by node, `descriptor` is its
// stored bytes (ChunkedMembers), decoded under the state's own schema. For
// fuzzing the collection decoders, and for tools holding chunks taken out of
// a store.
void check_chunked_value_decodes(std::string_view key, std::span<const std::byte> descriptor,
                                 const std::function<std::span<const std::byte>(std::uint64_t id)>& chunk);

// Whether setup() has been called (and shutdown() has not).
bool is_setup() noexcept;

// How far replication to PostgreSQL has got (status::enabled is false when
// setup() was not given setup_options::replicate, or before setup()).
replication::status replication_status();

// Waits up to `timeout` until every snapshot saved so far is replicated
// (async mode: the sender caught up); returns whether it is. True at once
// without replication or in sync mode (there a save that returned was
// replicated).
bool wait_for_replication(std::chrono::milliseconds timeout);

}  // namespace instadump
