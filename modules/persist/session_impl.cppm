// The session: the one object behind the state registry and the snapshot
// verbs (session.cppm), declared here for the implementation units that each
// do one stage of its work:
//
//   registry.cpp   states registering and unregistering
//   setup.cpp      setup() and shutdown(), and the reset they share
//   load.cpp       snapshot -> refs: the load at setup, reload_all(), and
//                  states registered after setup
//   save.cpp       refs -> snapshot: save_all()
//   autosave.cpp   the thread that saves on a timer or after commits
//   inspect.cpp    snapshots(), unclaimed_keys(), drop_unclaimed(),
//                  stored_schema(), check_value_decodes(),
//                  check_chunked_value_decodes()
//
// An internal partition of the instadump module: nothing here is exported.
// The lock order is checked by clang's thread-safety analysis: see the
// mutexes below.
module;
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/thread_safety.h"
#include "replication/replica_follower.h"
#include "replication/replicator.h"
#include "storage/file_lock.h"
#include "storage/snapshot_store.h"
#include "storage/snapshot_types.h"

module instadump:session_impl;
import :version;
import :chunk_deltas;
import :registry;
import :session;

namespace instadump::detail {

// Where the value of a state was last saved or loaded from, so that an
// unchanged value is neither encoded nor written again. See
// storage::kept_value for the fields.
struct saved_slot {
  bool valid = false;
  bool under_own_key = false;  // stored under the state's key (not a previous one)
  bool framed = false;
  std::uint64_t stamp = 0;     // version stamp of the value saved or loaded
  schema_identity schema;
  std::uint64_t blob_id = 0;
  std::uint64_t offset = 0;
  std::uint64_t size_bytes = 0;
  std::uint64_t checksum = 0;
  std::uint64_t key_id = 0;
  std::vector<std::uint64_t> chunk_roots;  // the chunks the stored value refers to

  // The slot of a value of version `stamp` stored as `e`. (`inline`: a
  // function defined in a class of a module is not inline by itself.)
  static inline saved_slot of(std::uint64_t stamp, const entry_info& e, bool under_own_key) {
    return saved_slot{true,         under_own_key, e.framed, stamp,    e.schema,
                      e.blob_id,    e.offset,      e.size_bytes, e.checksum, e.key_id, e.chunk_roots};
  }
};

// Whether saves write a state's value with its codec's encode_words: not
// before the session's first save of the state found that it writes what
// encode does; never when it does not, or the codec has none.
enum class words_check : std::uint8_t { unchecked, agree, not_used };

// What the session knows about one registered state.
struct tracked_state {
  inline explicit tracked_state(state_entry* e)
      : entry(e), words(e->has_encode_words() ? words_check::unchecked : words_check::not_used) {}

  state_entry* entry;
  saved_slot saved;  // reset when the session opens or closes a directory
  // For a state saved node by node (state_entry::chunked): the value the
  // base snapshot holds for it (saved or loaded last), which a save's delta
  // is taken against; the value whose tree the store holds (the same one
  // unless deltas were saved since), which decides which chunks a save may
  // refer to (collection_chunks' safety rule); and what was stored of it
  // (chunk_deltas). Reset with `saved`.
  // A struct state whose members are stored node by node keeps one history
  // per member instead (member_stored, by member; empty: none stored), and
  // its chunk_tree is the value whose members are the stored trees.
  held_version chunk_base;
  held_version chunk_tree;
  chunk_history chunk_stored;
  std::vector<chunk_history> member_stored;
  inline chunk_basis basis() const noexcept {
    return {chunk_base.get(), chunk_tree.get(), chunk_stored, member_stored};
  }
  inline void forget_chunks() noexcept {
    chunk_base.hold(nullptr);
    chunk_tree.hold(nullptr);
    chunk_stored = {};
    member_stored.clear();
  }
  words_check words;  // kept for as long as the state is registered
  // The first chunk epoch this state's nodes are tagged with, and the setup
  // it was given out in (session::chunk_epoch_of).
  std::uint64_t chunk_epoch = 0;
  std::uint64_t chunk_epoch_setup = 0;
};

// A state's value decoded from a snapshot (or its default, for a state the
// snapshot does not hold) and not installed yet.
struct decoded_value {
  tracked_state* state;
  version_base* value;  // one hold, ours
  entry_info stored;    // where it came from (nothing, for a default)
  bool is_default = false;
  chunk_loaded chunks;  // a value stored node by node: its history

  // Gives back the hold this has.
  inline void release() noexcept {
    if (value) value->release();
    value = nullptr;
  }
};

// Throws instadump::error when called inside a transaction: there, save_all
// would see (and save) the transaction's own uncommitted writes, and
// reload_all would join it instead of committing. `verb` names the caller.
void refuse_inside_transaction(const char* verb);

class session {
 public:
  // The session of the process, created on first use (so that registrations
  // from any static initializer find it).
  static session& get();
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // --- registry.cpp: see register_state / unregister_state.
  void add(state_entry* entry) EXCLUDES(op_mu_, registry_mu_);
  void remove(state_entry* entry) noexcept EXCLUDES(op_mu_, registry_mu_);

  // --- setup.cpp: the verbs of the same names.
  void setup(const std::filesystem::path& dir, const setup_options& options) EXCLUDES(op_mu_);
  void shutdown(bool final_save) EXCLUDES(op_mu_, autosave_mu_);
  // Whether a directory is open (setup done, shutdown not).
  bool open() EXCLUDES(op_mu_);

  // --- save.cpp
  save_result save(const save_options& options) EXCLUDES(op_mu_);

  // --- load.cpp: reload_all(), of the newest snapshot or of `id`; returns
  // the id of the snapshot loaded.
  std::uint64_t reload(std::optional<std::uint64_t> id, const reload_options& options) EXCLUDES(op_mu_);

  // --- inspect.cpp: the verbs snapshots(), unclaimed_keys(), stored_schema(),
  // drop_unclaimed() and check_value_decodes().
  std::vector<snapshot_info> list() EXCLUDES(op_mu_);
  std::vector<std::string> unclaimed() EXCLUDES(op_mu_);
  std::optional<std::string> schema_text(std::uint64_t fingerprint) EXCLUDES(op_mu_);
  bool drop(std::string_view key) EXCLUDES(op_mu_);
  void check_decodes(std::string_view key, std::span<const std::byte> bytes, const schema_identity& stored,
                     bool framed) EXCLUDES(registry_mu_);
  void check_chunked_decodes(std::string_view key, std::span<const std::byte> descriptor,
                             const std::function<std::span<const std::byte>(std::uint64_t)>& chunk)
      EXCLUDES(registry_mu_);

  // --- replicate.cpp: replication_status() and wait_for_replication().
  replication::status replication_state() EXCLUDES(op_mu_);
  bool wait_replicated(std::chrono::milliseconds timeout) EXCLUDES(op_mu_);

 private:
  session() = default;

  // registry.cpp: a copy of the registered states (for code that does not
  // hold op_mu_; code that does reads tracked_).
  std::vector<state_entry*> registered() EXCLUDES(registry_mu_);

  // setup.cpp
  storage::snapshot_store& store_or_throw(const char* verb) REQUIRES(op_mu_);
  // Closes the directory (if open) and forgets everything the session knew
  // about it: what setup does before it opens one, and shutdown after.
  void close() REQUIRES(op_mu_);

  // load.cpp
  void load_at_setup() REQUIRES(op_mu_);
  // Lists the snapshots and loads snapshot `id` (default: the newest) as
  // load_first_restorable does; returns its id, 0 when there is none. In a
  // read-only session it lists again when the writer pruned the newest
  // between listing and reading it. `verb` names the caller in errors.
  std::uint64_t load_listed(std::optional<std::uint64_t> id, bool fall_back, const skipped_snapshot_callback& on_skipped,
                            bool defaults, const char* verb) REQUIRES(op_mu_);
  // How often load_listed() lists again (each time the writer pruned what
  // it listed: it saved keep_generations snapshots during one load).
  static constexpr int kListingAttempts = 100;
  // Loads into every registered ref the first snapshot of `ids` (newest
  // first), from index `first`, that restores; returns its id. A snapshot
  // that fails with a storage_error is skipped (and reported) when
  // `fall_back`, else the error is thrown. `defaults`: refs a snapshot does
  // not hold take their defaults (else they keep their values).
  std::uint64_t load_first_restorable(std::span<const std::uint64_t> ids, std::size_t first, bool fall_back,
                                      const skipped_snapshot_callback& on_skipped, bool defaults)
      REQUIRES(op_mu_);
  // Decodes the values of `states` found in snapshot `id`; with `defaults`,
  // adds the default of each state it does not hold. `not_own` (if given)
  // receives the snapshot's values that no state in `states` claims under its
  // own key: unclaimed ones and those under a renamed state's previous key.
  std::vector<decoded_value> decode_snapshot(std::uint64_t id, std::span<tracked_state> states, bool defaults,
                                             std::vector<entry_info>* not_own = nullptr) REQUIRES(op_mu_);
  // Installs `values` in one transaction and remembers what they came from.
  void install(std::vector<decoded_value>& values, std::uint64_t id) REQUIRES(op_mu_);
  // The chunk epoch of `t` in this setup (its first, if it has several:
  // state_entry::chunk_owners), given out on first use.
  std::uint64_t chunk_epoch_of(tracked_state& t) REQUIRES(op_mu_);
  // Makes snapshot `id` the base: what later saves carry unclaimed values
  // from. `not_own`: as decode_snapshot gave it.
  void set_base(std::uint64_t id, bool newest, std::vector<entry_info>& not_own) REQUIRES(op_mu_);
  // Loads the value of `entry`, registered after setup, from the base.
  void load_late(state_entry* entry) EXCLUDES(op_mu_);

  // save.cpp
  save_result save_locked(bool durable) REQUIRES(op_mu_);
  // Of the states at `put` in tracked_, whose values a save writes, the
  // schema texts not stored in the directory yet (each fingerprint once).
  std::vector<storage::schema_record> schemas_to_store(std::span<const std::size_t> put) REQUIRES(op_mu_);

  // autosave.cpp
  void start_autosave() REQUIRES(op_mu_) EXCLUDES(autosave_mu_);
  // Counts the commits of `entry`'s ref toward autosave_options::after_commits
  // (when autosave counts them: commit_threshold_ != 0).
  void count_commits_of(state_entry* entry) REQUIRES(op_mu_);
  void stop_autosave(bool final_save) EXCLUDES(op_mu_, autosave_mu_);
  void autosave_loop() EXCLUDES(op_mu_, autosave_mu_);
  // Whether the autosave thread should wake up and save (or stop).
  bool autosave_due(std::chrono::steady_clock::time_point next) REQUIRES(autosave_mu_);

  // Serializes the verbs (setup, saves, loads, shutdown) and registration
  // changes; guards the session's state below.
  mutex op_mu_;
  // Guards the list of registered states. Taken alone or after op_mu_.
  mutex registry_mu_ ACQUIRED_AFTER(op_mu_);
  // Guards the autosave thread's settings; also the lock of autosave_cv_.
  // Taken alone or after op_mu_ (by a commit listener, when a load commits).
  mutex autosave_mu_ ACQUIRED_AFTER(op_mu_);

  // The registry: every registered state, in registration order.
  std::vector<state_entry*> entries_ GUARDED_BY(registry_mu_);
  // The same states (changed together with entries_, holding both locks),
  // with what the session knows about each.
  std::vector<tracked_state> tracked_ GUARDED_BY(op_mu_);

  std::unique_ptr<storage::snapshot_store> store_ GUARDED_BY(op_mu_);  // null: not set up
  // Replication of store_ to PostgreSQL (setup_options::replicate); null
  // when off. Destroyed before store_, which its sender reads.
  std::unique_ptr<replication::replicator> replicator_ GUARDED_BY(op_mu_);
  // A reader of a replicated store (setup_options::read_only with
  // replicate.url): what keeps store_ -- the reader's cache -- current, and
  // the cache directory's lock (released after store_ closes). Null otherwise.
  std::unique_ptr<replication::replica_follower> follower_ GUARDED_BY(op_mu_);
  std::unique_ptr<storage::directory_lock> cache_lock_ GUARDED_BY(op_mu_);
  setup_options options_ GUARDED_BY(op_mu_);
  std::set<std::string, std::less<>> dropped_ GUARDED_BY(op_mu_);
  // Keys of the base snapshot the next save leaves out: dropped unclaimed
  // values, and values under a key a renamed state claims as a previous one.
  std::set<std::string, std::less<>> pending_remove_ GUARDED_BY(op_mu_);
  // The base is the newest snapshot in the store: a save can then say only
  // what changed (snapshot_store::write_snapshot(base, delta)).
  bool base_is_newest_ GUARDED_BY(op_mu_) = false;
  // Values of the snapshot the refs were last loaded from or saved to that
  // no registered ref claims (by key or previous key), minus dropped ones:
  // carried into every save. Kept up to date as refs (un)register.
  std::map<std::string, entry_info, std::less<>> unclaimed_ GUARDED_BY(op_mu_);
  std::uint64_t base_id_ GUARDED_BY(op_mu_) = 0;  // that snapshot's id; 0 for none
  // Schema fingerprints known to be stored in this directory.
  std::unordered_set<std::uint64_t> schemas_stored_ GUARDED_BY(op_mu_);
  // Which setup this is (counted from 1): chunk epochs are given out anew
  // at every setup, so tags from an earlier directory never count.
  std::uint64_t chunk_epoch_ GUARDED_BY(op_mu_) = 0;
  // The next chunk epoch to give out (chunk_tags; 1 to chunk_tags::max_epoch).
  std::uint64_t next_chunk_epoch_ GUARDED_BY(op_mu_) = 1;
  bool atexit_registered_ GUARDED_BY(op_mu_) = false;

  // Autosave: the thread, and its copy of setup_options::autosave.
  std::thread autosave_thread_ GUARDED_BY(autosave_mu_);
  autosave_options autosave_ GUARDED_BY(autosave_mu_);
  bool autosave_stop_ GUARDED_BY(autosave_mu_) = false;
  std::condition_variable autosave_cv_;
  // Commits that changed state refs since the last save (a watch on each).
  std::atomic<std::uint64_t> commits_since_save_{0};
  // autosave_options::after_commits while autosave counts commits (every
  // registered state's ref has a commit listener, late ones included), else 0.
  std::uint64_t commit_threshold_ GUARDED_BY(op_mu_) = 0;
};

}  // namespace instadump::detail
