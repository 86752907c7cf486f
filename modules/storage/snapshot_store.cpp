// The snapshot store's API over its parts: the LMDB environment
// (store_environment.h), the writer (lmdb_writer.h) and the journal
// (journal.h). Opening checks the options and puts the parts together; reads
// run here, after the journal has caught up; writes go to the journal or the
// writer. See snapshot_store.h for the API and layout, docs/FORMAT.md for
// the format.
#include "storage/snapshot_store.h"

#include <algorithm>

#include <span>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/errors.h"
#include "common/limits.h"
#include "storage/checksum.h"
#include "storage/error_advice.h"
#include "storage/journal.h"
#include "storage/journal_overlay.h"
#include "storage/lmdb_env.h"
#include "storage/lmdb_writer.h"
#include "storage/record_io.h"
#include "storage/store_environment.h"
#include "storage/stored_chunks.h"

namespace instadump::storage {

struct snapshot_store::impl {
  explicit impl(std::unique_ptr<store_environment> e) : env(std::move(e)), writer(*env) {}

  // Runs f(txn, dbis, overlay) in a read transaction. Writable stores first
  // write the snapshots in their journal (if any) into data.mdb, and the
  // overlay is empty; read-only stores read journal.log first, then begin
  // the transaction the overlay is laid over (journal_overlay.h), and read
  // both again when the frames read do not continue it.
  template <typename F>
  auto read(F&& f) const {
    env->check_process();
    if (!env->options().read_only) {
      // (Logically const: data.mdb then holds what the store already held.)
      if (journaled) journaled->catch_up();
      return env->read([&](MDB_txn* txn, const store_dbis& dbis) { return f(txn, dbis, journal_overlay()); });
    }
    int unexplained = 0;  // reads in a row whose frames did not fit while data.mdb stood still
    for (int attempt = 1;; ++attempt) {
      journal_read journaled_read = env->read([&](MDB_txn* txn, const store_dbis& dbis) {
        return journal_overlay::read_file(txn, dbis, env->dir());
      });
      try {
        return env->read([&](MDB_txn* txn, const store_dbis& dbis) {
          const bool report_damage = unexplained + 1 >= kDamageReads;
          return f(txn, dbis, journal_overlay::over(txn, dbis, env->dir(), journaled_read, report_damage));
        });
      } catch (const journal_moved& moved) {
        unexplained = moved.writer_committed ? 0 : unexplained + 1;
        if (attempt >= kJournalReadAttempts) {
          throw load_failed("instadump: reading the store in " + env->dir().string() + " failed: its writer moved " +
                            "the journal's frames " + std::to_string(attempt) + " times while it was being read; " +
                            "try again");
        }
      }
    }
  }

  // An attempt fails only when the writer went on into the journal's other
  // half while it was read (journal_overlay.h): it needs a whole half
  // written meanwhile, so this many in a row means something is wrong.
  static constexpr int kJournalReadAttempts = 100;
  // A frame that looks damaged, or frames that do not continue data.mdb,
  // may be ones the writer was writing while they were read: they are
  // reported as damage only when that many reads in a row find them with
  // data.mdb unchanged.
  static constexpr int kDamageReads = 3;

  std::unique_ptr<store_environment> env;
  lmdb_writer writer;
  std::unique_ptr<journal> journaled;  // writable stores with a journal
};

namespace {

using lmdb::check;
using lmdb::id_key;
using lmdb::lmdb_failure;

constexpr std::size_t kMinJournalBytes = std::size_t{64} << 10;

// Throws invalid_option for an option open() cannot work with.
void check_options(const store_options& options) {
  if (options.keep_generations == 0) {
    throw invalid_option(
        "instadump: store_options.keep_generations is 0; it must be at least 1 (the number of snapshots kept)");
  }
  if (options.initial_map_size == 0) {
    throw invalid_option(
        "instadump: store_options.initial_map_size is 0; it must be more than 0 (bytes; the map grows as needed)");
  }
  if (options.journal && options.journal_bytes < kMinJournalBytes) {
    throw invalid_option("instadump: store_options.journal_bytes is " + std::to_string(options.journal_bytes) +
                         "; it must be at least " + std::to_string(kMinJournalBytes) +
                         " (64 KiB), or set store_options.journal to false");
  }
}

// Throws save_failed (limit_exceeded for a key longer than a stored name
// can be) when `values` cannot be saved at all (before anything
// is looked at in the store).
void check_values(const std::vector<std::variant<new_value, kept_value>>& values) {
  // (Keys appearing twice are found once names are ids.)
  for (const auto& value : values) {
    const std::string_view key = std::visit([](const auto& v) { return v.key; }, value);
    if (key.empty()) throw save_failed("instadump: a value to save has an empty key; every value needs a name");
    if (key.size() > limits::checked.key_bytes) {
      throw limit_exceeded("instadump: cannot save the value named '" + std::string(key.substr(0, 60)) + "...': its name is " +
                               std::to_string(key.size()) + " bytes long, and a name is stored as one LMDB value of "
                               "at most " + std::to_string(limits::checked.key_bytes) +
                               " bytes (README, \"Limits\"); register it under a shorter key. Nothing was written, "
                               "the previous snapshots are intact",
                           limits::checked.key_bytes, key.size());
    }
    if (const auto* v = std::get_if<new_value>(&value)) {
      if (v->size_bytes % sizeof(capnp::word) != 0) {
        throw save_failed("instadump: value \"" + std::string(key) + "\" is " + std::to_string(v->size_bytes) +
                          " bytes long; the size must be a multiple of 8 (whole Cap'n Proto words)");
      }
      if (!v->fill && !v->fill_in_place && v->bytes.size() != v->size_bytes) {
        throw save_failed("instadump: value \"" + std::string(key) +
                          "\" has no fill function, and not size_bytes bytes either");
      }
      if (!v->chunk_roots.empty() && v->size_bytes == 0) {
        throw save_failed("instadump: value \"" + std::string(key) +
                          "\" refers to chunks but has no bytes; a value that refers to chunks names them in its bytes");
      }
    }
  }
}

// The oldest kept snapshot's id (0 for a format 1 store: it keeps every one).
std::uint64_t oldest_kept(MDB_txn* txn, const store_dbis& dbis, const std::filesystem::path& dir) {
  const std::uint32_t format = read_format(txn, dbis, dir);
  return format == 1 ? 0 : read_counter(txn, dbis.meta, kMetaOldestKey, 0);
}

}  // namespace

snapshot_store::snapshot_store(std::unique_ptr<impl> parts) : impl_(std::move(parts)) {}

snapshot_store::~snapshot_store() {
  if (impl_->env->forked()) {
    // The applier thread is the parent's: do not join it (the environment
    // leaves itself alone, too).
    (void)impl_->journaled.release();
    return;
  }
  impl_->journaled.reset();  // writes what is journaled into data.mdb, if it can
}

std::unique_ptr<snapshot_store> snapshot_store::open(const std::filesystem::path& path,
                                                     const store_options& options) {
  check_options(options);
  // "a/b/" names the directory "a/b": without this, parent_path() would be
  // the directory itself and it would be created without mode 0700.
  const std::filesystem::path dir = path.has_filename() ? path : path.parent_path();
  std::unique_ptr<snapshot_store> store(
      new snapshot_store(std::make_unique<impl>(store_environment::open(dir, options))));
  impl& parts = *store->impl_;
  try {
    parts.env->initialize();
    if (!options.read_only && options.journal) {
      parts.journaled = std::make_unique<journal>(parts.writer);
      parts.journaled->recover();
    }
  } catch (const lmdb_failure& e) {
    if (e.code() == MDB_INCOMPATIBLE) {
      throw open_failed("instadump: " + dir.string() +
                        " holds an LMDB environment that is not an Instadump store; use an empty directory");
    }
    throw open_failed("instadump: cannot open the store in " + dir.string() + ": " + e.what());
  } catch (const corrupt_data& e) {
    throw open_failed(std::string(e.what()) + "; this is not a usable Instadump store");
  }
  return store;
}

// --- writing -----------------------------------------------------------------

snapshot_info snapshot_store::write_snapshot(std::vector<std::variant<new_value, kept_value>> values,
                                             bool durable, std::span<const schema_record> schemas) {
  return write_snapshot(0, snapshot_delta{std::move(values), {}, {}}, durable, schemas);
}

snapshot_info snapshot_store::write_snapshot(std::uint64_t base_id, snapshot_delta delta, bool durable,
                                             std::span<const schema_record> schemas) {
  impl& parts = *impl_;
  parts.env->check_process();
  if (parts.env->options().read_only) {
    throw save_failed("instadump: the store in " + parts.env->dir().string() +
                      " was opened read-only; open it with read_only = false to write snapshots");
  }
  check_values(delta.put);
  if (parts.journaled) return parts.journaled->save(base_id, delta, durable, schemas);
  return parts.writer.save(base_id, delta, durable, schemas);
}

void snapshot_store::make_durable() {
  impl& parts = *impl_;
  parts.env->check_process();
  if (parts.env->options().read_only) return;  // (it writes nothing)
  if (parts.journaled) return parts.journaled->make_durable();
  parts.env->refuse_writes_if_poisoned();
  parts.env->sync_if_unsynced("the newest snapshots of the store in " + parts.env->dir().string());
}

std::uint64_t snapshot_store::next_chunk_id() const {
  impl& parts = *impl_;
  parts.env->check_process();
  try {
    if (parts.journaled) return parts.journaled->next_chunk_id();
    if (!parts.env->options().read_only) return parts.writer.next_chunk_id();
  } catch (const lmdb_failure& e) {
    throw load_failed("instadump: reading the store in " + parts.env->dir().string() + " failed: " + e.what());
  }
  // Read-only: what the writer would start at, as data.mdb and the journal say.
  return parts.read([](MDB_txn* txn, const store_dbis& dbis, const journal_overlay& journaled) {
    std::uint64_t next = std::max<std::uint64_t>(read_counter(txn, dbis.meta, kMetaNextChunkKey, 1), 1);
    const std::optional<std::uint64_t> last = dbis.chunks != 0 ? lmdb::last_id(txn, dbis.chunks) : std::nullopt;
    if (last) next = std::max(next, *last + 1);
    for (const auto& [id, bytes] : journaled.chunks()) next = std::max(next, id + 1);
    return next;
  });
}

void snapshot_store::flush_journal() {
  impl_->env->check_process();
  if (impl_->journaled) impl_->journaled->apply();
}

// --- reading -----------------------------------------------------------------

std::vector<snapshot_info> snapshot_store::list_snapshots() const {
  const std::filesystem::path& dir = impl_->env->dir();
  return impl_->read([&](MDB_txn* txn, const store_dbis& dbis, const journal_overlay& journaled) {
    stored_chain chain = read_chain(txn, dbis, dir);
    journaled.extend(chain);
    std::vector<snapshot_info> result;
    for_each_kept_view(chain, dir, [&](std::uint64_t id, const snapshot_view& view) {
      result.push_back(info_of(chain, id, view, dir));
    });
    std::reverse(result.begin(), result.end());  // newest first
    return result;
  });
}

std::vector<std::uint64_t> snapshot_store::snapshot_ids() const {
  const std::filesystem::path& dir = impl_->env->dir();
  return impl_->read([&](MDB_txn* txn, const store_dbis& dbis, const journal_overlay& journaled) {
    const std::uint64_t oldest = oldest_kept(txn, dbis, dir);
    std::vector<std::uint64_t> ids;
    for (auto e = journaled.entries().rbegin(); e != journaled.entries().rend(); ++e) ids.push_back(e->snapshot_id);
    lmdb::for_each_record(txn, dbis.snapshots, true, [&](const MDB_val& k, const MDB_val&) {
      const std::uint64_t id = lmdb::decode_id_key(k);
      if (id >= oldest) ids.push_back(id);
    });
    return ids;
  });
}

std::optional<snapshot_info> snapshot_store::newest() const {
  const std::filesystem::path& dir = impl_->env->dir();
  return impl_->read([&](MDB_txn* txn, const store_dbis& dbis,
                          const journal_overlay& journaled) -> std::optional<snapshot_info> {
    stored_chain chain = read_chain(txn, dbis, dir);
    journaled.extend(chain);
    if (chain.links.empty()) return std::nullopt;
    const std::uint64_t id = chain.newest();
    return info_of(chain, id, view_of(chain, id, dir), dir);
  });
}

void snapshot_store::read_snapshot(
    std::uint64_t id, const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>)>& visit) const {
  read_snapshot(id, [&](const entry_info& e, kj::ArrayPtr<const capnp::word> words, const chunk_source&) {
    visit(e, words);
  });
}

void snapshot_store::read_snapshot(std::uint64_t id,
                                   const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>,
                                                            const chunk_source& chunks)>& visit) const {
  read_verified(id, visit, nullptr);
}

void snapshot_store::check_snapshot(
    std::uint64_t id,
    const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>, const chunk_source& chunks)>& visit,
    const std::function<void(const entry_info&, const std::string& problem)>& damaged) const {
  read_verified(id, visit, &damaged);
}

void snapshot_store::read_verified(
    std::uint64_t id,
    const std::function<void(const entry_info&, kj::ArrayPtr<const capnp::word>, const chunk_source& chunks)>& visit,
    const std::function<void(const entry_info&, const std::string& problem)>* damaged) const {
  const std::filesystem::path& dir = impl_->env->dir();
  impl_->read([&](MDB_txn* txn, const store_dbis& dbis, const journal_overlay& journaled) {
    const std::string name = snapshot_name(id, dir);
    stored_chain chain = read_chain(txn, dbis, dir);
    journaled.extend(chain);
    const snapshot_info info = info_of(chain, id, view_of(chain, id, dir), dir, false);
    // Verify everything before visiting anything, so a damaged snapshot is
    // rejected as a whole (or, checking, its intact values visited).
    std::unordered_map<std::uint64_t, std::span<const std::byte>> blobs;
    std::vector<std::optional<std::span<const std::byte>>> bytes_of_entry;
    bytes_of_entry.reserve(info.entries.size());
    for (const entry_info& e : info.entries) try {
      // (Built only for an error: once per value, it would cost as much as checking it.)
      auto what = [&] { return "value \"" + e.key + "\" of " + name; };
      std::span<const std::byte> bytes;
      if (e.size_bytes != 0) {
        auto [it, fresh] = blobs.try_emplace(e.blob_id);
        if (fresh && journaled.blob(e.blob_id)) {
          it->second = *journaled.blob(e.blob_id);
        } else if (fresh) {
          id_key blob_key(e.blob_id);
          MDB_val bk = blob_key.val(), bv;
          const int brc = mdb_get(txn, dbis.blobs, &bk, &bv);
          if (brc == MDB_NOTFOUND) {
            blobs.erase(it);
            throw corrupt_data("instadump: the bytes of " + what() + " (blob " + std::to_string(e.blob_id) +
                               ") are missing; the snapshot is damaged: " + advice::load_older_snapshot);
          }
          check(brc, "mdb_get (blob)");
          it->second = lmdb::bytes_of(bv);
        }
        const std::span<const std::byte> blob = it->second;
        if (e.offset > blob.size() || blob.size() - e.offset < e.size_bytes) {
          throw corrupt_data("instadump: " + what() + " takes " + std::to_string(e.size_bytes) + " bytes at offset " +
                             std::to_string(e.offset) + " of blob " + std::to_string(e.blob_id) + ", which is " +
                             std::to_string(blob.size()) +
                             " bytes long; the snapshot is damaged or truncated: " + advice::load_older_snapshot);
        }
        bytes = blob.subspan(e.offset, e.size_bytes);
      }
      const std::uint64_t sum = checksum_of(bytes);
      if (sum != e.checksum) {
        throw corrupt_data("instadump: checksum mismatch for " + what() + " (stored " + std::to_string(e.checksum) +
                           ", computed " + std::to_string(sum) +
                           "); the snapshot is damaged: " + advice::load_older_snapshot);
      }
      bytes_of_entry.push_back(bytes);
    } catch (const corrupt_data& problem) {
      if (!damaged) throw;
      (*damaged)(e, problem.what());
      bytes_of_entry.push_back(std::nullopt);
    }
    stored_chunk_source chunks(txn, dbis.chunks, name, &journaled.chunks());
    for (std::size_t i = 0; i < info.entries.size(); ++i) {
      if (!bytes_of_entry[i]) continue;
      aligned_words words(*bytes_of_entry[i]);
      chunks.visiting(info.entries[i].key);
      visit(info.entries[i], words.words(), chunks);
    }
  });
}

void snapshot_store::read_chunks(const std::string& what,
                                 const std::function<void(const chunk_source& chunks)>& visit) const {
  const std::string name = "the store in \"" + impl_->env->dir().string() + "\"";
  impl_->read([&](MDB_txn* txn, const store_dbis& dbis, const journal_overlay& journaled) {
    stored_chunk_source chunks(txn, dbis.chunks, name, &journaled.chunks());
    chunks.visiting(what);
    visit(chunks);
  });
}

std::optional<std::vector<std::byte>> snapshot_store::get_schema(std::uint64_t fingerprint) const {
  return impl_->read([&](MDB_txn* txn, const store_dbis& dbis,
                          const journal_overlay& journaled) -> std::optional<std::vector<std::byte>> {
    if (const schema_record* s = journaled.schema(fingerprint)) return s->bytes;
    id_key key(fingerprint);
    MDB_val k = key.val(), v;
    const int rc = mdb_get(txn, dbis.schemas, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(rc, "mdb_get (schema)");
    const auto bytes = lmdb::bytes_of(v);
    return std::vector<std::byte>(bytes.begin(), bytes.end());
  });
}

store_stats snapshot_store::stats() const {
  const store_environment& env = *impl_->env;
  return impl_->read([&](MDB_txn* txn, const store_dbis& dbis, const journal_overlay& journaled) {
    store_stats s;
    std::error_code ec;
    s.file_bytes = std::filesystem::file_size(env.dir() / "data.mdb", ec);
    MDB_envinfo info;
    check(mdb_env_info(mdb_txn_env(txn), &info), "mdb_env_info");
    MDB_stat env_stat;
    check(mdb_env_stat(mdb_txn_env(txn), &env_stat), "mdb_env_stat");
    s.map_bytes = info.me_mapsize;
    s.used_bytes = (std::uint64_t{info.me_last_pgno} + 1) * env_stat.ms_psize;
    const std::uint64_t oldest = oldest_kept(txn, dbis, env.dir());
    lmdb::for_each_record(txn, dbis.snapshots, false, [&](const MDB_val& k, const MDB_val&) {
      if (lmdb::decode_id_key(k) >= oldest) ++s.snapshot_count;
    });
    MDB_stat st;
    check(mdb_stat(txn, dbis.blobs, &st), "mdb_stat (blobs)");
    s.blob_count = st.ms_entries;
    lmdb::for_each_record(txn, dbis.blobs, false,
                          [&](const MDB_val&, const MDB_val& v) { s.live_bytes += v.mv_size; });
    const chunk_totals chunks = stored_chunk_totals(txn, dbis.chunks);
    s.chunk_count = chunks.count;
    s.chunk_bytes = chunks.bytes;
    s.snapshot_count += journaled.entries().size();
    s.journaled_snapshots = journaled.entries().size();
    s.journaled_bytes = journaled.value_bytes();
    s.live_bytes += s.journaled_bytes;
    for (const journal_entry& e : journaled.entries()) s.blob_count += e.blob.empty() ? 0 : 1;
    for (const journal_entry& e : journaled.entries()) {
      for (const std::span<const std::byte> c : e.chunks) {
        ++s.chunk_count;
        s.chunk_bytes += c.size();
      }
    }
    s.stale_readers_cleared = env.stale_readers_cleared();
    return s;
  });
}

std::filesystem::path snapshot_store::directory() const { return impl_->env->dir(); }

bool snapshot_store::read_only() const { return impl_->env->options().read_only; }

unsigned snapshot_store::keep_generations() const { return impl_->env->options().keep_generations; }

bool snapshot_store::poisoned() const { return impl_->env->poisoned(); }

}  // namespace instadump::storage
