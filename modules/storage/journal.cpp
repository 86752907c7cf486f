// The journal of a writable store: journaled saves, the applier that writes
// them into data.mdb, and recovery at open (see journal.h for the design,
// snapshot_store.h for the contract, docs/FORMAT.md for the file).
#include "storage/journal.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>
#include <utility>

#include "common/errors.h"
#include "storage/checksum.h"
#include "storage/error_advice.h"
#include "storage/journal_recovery.h"
#include "storage/journal_replay.h"
#include "storage/io_errors.h"
#include "storage/lmdb_env.h"
#include "storage/manifest_codec.h"
#include "storage/record_io.h"
#include "storage/test_hooks.h"
#include "storage/value_placement.h"

namespace instadump::storage {
namespace {

using lmdb::lmdb_failure;

// The longest a journaled snapshot waits for company while saves go on.
constexpr std::chrono::seconds kMaxJournalWait{1};

journal_file open_file(const store_environment& env) {
  try {
    return journal_file(env.dir(), env.options().journal_bytes);
  } catch (const journal_io_error& e) {
    throw open_failed("instadump: cannot open the journal of the store in " + env.dir().string() + ": " + e.what());
  }
}

}  // namespace

journal::journal(lmdb_writer& writer)
    : writer_(writer),
      delay_(writer.env().options().journal_delay),
      file_(open_file(writer.env())),
      plan_(file_.capacity() / 4, writer.env().options().keep_generations, writer.env().dir()) {}

journal::~journal() {
  stop_applier();
  try {
    apply();  // what does not make it stays journaled for the next open
  } catch (...) {
  }
}

void journal::recover() {
  const std::filesystem::path& dir = writer_.env().dir();
  std::filesystem::path path;
  std::vector<journal_frame> frames;
  {
    instadump::detail::lock_guard lock(mu_);
    path = file_.path();
    try {
      frames = file_.read_frames();
    } catch (const journal_io_error& e) {
      throw open_failed("instadump: cannot read the journal of the store in " + dir.string() + ": " + e.what());
    }
  }
  if (!frames.empty()) {
    journal_base base;
    try {
      instadump::detail::lock_guard lock(writer_.env().mu);
      lmdb::transaction txn(writer_.env().handle(), MDB_RDONLY);
      const writer_state& w = writer_.state(txn.get());
      base.newest = w.chain.newest;
      base.newest_created = w.newest_created;
      base.store_created = read_store_created(txn.get(), writer_.env().dbis(), dir);
    } catch (const lmdb_failure& e) {
      throw open_failed("instadump: cannot open the store in " + dir.string() + ": " + e.what());
    }
    recover_journaled(frames, base, dir, path, [this](journal_entry&& entry, std::vector<std::uint64_t>&& payload) {
      instadump::detail::lock_guard lock(mu_);
      pending_snapshot& p = pending_.emplace_back();
      p.payload = std::move(payload);
      p.entry = std::move(entry);
    });
    try {
      apply();
    } catch (const storage_error& e) {
      throw open_failed(std::string(e.what()) + " (opening the store; the journal keeps them: open it again "
                        "once the problem is solved)");
    }
  }
  {
    instadump::detail::lock_guard lock(mu_);
    try {
      file_.start_over();  // everything in it is in data.mdb now
    } catch (const journal_io_error& e) {
      throw open_failed("instadump: cannot reset the journal of the store in " + dir.string() + ": " + e.what());
    }
  }
  applier_ = std::thread([this] { applier_loop(); });
}

// --- saving ------------------------------------------------------------------

snapshot_info journal::save(std::uint64_t base_id, const snapshot_delta& delta, bool durable,
                            std::span<const schema_record> schemas) {
  instadump::detail::lock_guard save(save_mu_);
  writer_.env().refuse_writes_if_poisoned();
  if (std::optional<snapshot_info> info = write_journaled(base_id, delta, durable, schemas)) return std::move(*info);
  // Written directly, on top of the journaled snapshots: they go first.
  apply();
  snapshot_info info = writer_.write(base_id, delta, durable, schemas);
  plan_.invalidate();  // the next journaled save plans from data.mdb again
  return info;
}

void journal::make_durable() {
  instadump::detail::lock_guard save(save_mu_);
  writer_.env().refuse_writes_if_poisoned();
  {
    instadump::detail::lock_guard lock(mu_);
    try {
      file_.flush();
    } catch (const journal_io_error& err) {
      writer_.env().poison();  // fsyncgate, as in write_journaled
      const std::filesystem::path& dir = writer_.env().dir();
      throw save_failed("instadump: flushing the journal of the store in " + dir.string() + " failed (" +
                        describe_write_failure(err.code(), err.what(), dir, 0) + "); its newest snapshots may not "
                        "be durable and the store refuses further writes: " + advice::reopen_store +
                        " (the last durable snapshot is intact) and check the disk");
    }
  }
  writer_.env().sync_if_unsynced("the newest snapshots of the store in " + writer_.env().dir().string());
}

std::optional<journal_plan> journal::plan(std::uint64_t base_id, const snapshot_delta& delta,
                                          std::span<const schema_record> schemas) {
  if (!plan_.planned()) {
    {
      instadump::detail::lock_guard lock(mu_);
      if (!pending_.empty()) return std::nullopt;  // the direct write puts them into data.mdb first
    }
    instadump::detail::lock_guard lock(writer_.env().mu);
    lmdb::transaction txn(writer_.env().handle(), MDB_RDONLY);
    const writer_state& w = writer_.state(txn.get());
    if (!journal_planner::can_follow(w)) return std::nullopt;
    const store_dbis& dbis = writer_.env().dbis();
    plan_.reset(w, read_store_created(txn.get(), dbis, writer_.env().dir()),
                read_counter(txn.get(), dbis.meta, kMetaNextBlobKey, 1));
    if (!plan_.planned()) return std::nullopt;
  }
  return plan_.plan(base_id, delta, schemas);
}

std::optional<snapshot_info> journal::write_journaled(std::uint64_t base_id, const snapshot_delta& delta,
                                                      bool durable, std::span<const schema_record> schemas) {
  std::optional<journal_plan> planned = plan(base_id, delta, schemas);
  if (!planned) return std::nullopt;
  const std::filesystem::path& dir = writer_.env().dir();
  journal_entry& e = planned->entry;
  const admitted_chunks& chunks = planned->chunks.admitted;
  auto message = std::make_unique<journal_message>(
      planned->blob_bytes, chunks.total_bytes,
      journal_message_words(e.values.size(), e.new_keys.size(), planned->name_bytes, e.removed.size(),
                            planned->schema_bytes, chunks.bytes.size(), planned->chunk_roots));
  const std::span<std::byte> blob = message->blob();
  std::vector<std::uint64_t> checksums(e.values.size());
  for (std::size_t i = 0; i < e.values.size(); ++i) {
    const journal_value& out = e.values[i];
    std::span<std::byte> space = blob.subspan(out.offset, out.size_bytes);
    fill_new_value(std::get<new_value>(delta.put[i]), i, space, dir);
    checksums[i] = checksum_of(space);
  }
  std::size_t chunk_at = 0;
  for (const std::span<const std::byte> c : chunks.bytes) {  // (in ascending id order)
    const std::span<std::byte> space = message->chunks().subspan(chunk_at, c.size());
    std::memcpy(space.data(), c.data(), c.size());
    e.chunks.push_back(space);
    chunk_at += c.size();
  }
  message->finish(e);
  e.blob = blob;

  const std::size_t payload_bytes = message->payload_bytes();
  bool other_half_busy = false;
  {
    instadump::detail::lock_guard lock(mu_);
    if (!file_.fits_a_half(payload_bytes)) return std::nullopt;
    if (!file_.fits(payload_bytes)) other_half_busy = has_pending_in(file_.half() ^ 1);
  }
  if (other_half_busy) {
    // Both halves hold snapshots data.mdb does not have yet: it takes them now.
    try {
      apply();
    } catch (const storage_error& err) {
      throw save_failed("instadump: the journal of the store in " + dir.string() +
                        " is full, and writing the snapshots in it into data.mdb failed: " + err.what() +
                        "; nothing was written");
    }
  }
  snapshot_info info;
  info.id = e.snapshot_id;
  info.created_unix_nanos = e.created_unix_nanos;
  info.entries.reserve(e.values.size());
  for (std::size_t i = 0; i < e.values.size(); ++i) {
    const journal_value& v = e.values[i];
    const bool has_bytes = v.size_bytes != 0;
    info.entries.emplace_back(delta.entry_keys ? std::string(std::get<new_value>(delta.put[i]).key) : std::string(),
                              v.schema, has_bytes ? e.blob_id : 0, v.size_bytes, checksums[i],
                              has_bytes ? v.offset : 0, v.framed, v.key_id, v.chunk_roots);
  }

  bool wake_applier = false;
  {
    instadump::detail::lock_guard lock(mu_);
    if (!file_.fits(payload_bytes)) {
      file_.switch_half();  // (nothing there is needed: see above)
      wake_applier = true;  // the half before goes into data.mdb now
    }
    try {
      file_.append(e.snapshot_id, message->unpacked_bytes(), message->payload(), durable);
    } catch (const journal_io_error& err) {
      // fsyncgate: after a failed flush the kernel may have dropped pages
      // and report success next time; nothing written from now on can be
      // trusted to reach the disk.
      if (err.flush_failed()) writer_.env().poison();
      throw save_failed("instadump: writing " + snapshot_name(e.snapshot_id, dir) + " to its journal failed (" +
                        describe_write_failure(err.code(), err.what(), dir, payload_bytes) + "); " +
                        (err.flush_failed() ? std::string("it may not be durable and the store refuses further writes: ") +
                                                  advice::reopen_store +
                                                  " (the last durable snapshot is intact) and check the disk"
                                            : std::string("nothing was written; earlier snapshots are intact")));
    }
    plan_.advance(e, std::move(planned->chunks));
    newest_pending_ = std::chrono::steady_clock::now();
    if (pending_.empty()) oldest_pending_ = newest_pending_;
    pending_snapshot& p = pending_.emplace_back();
    p.message = std::move(message);
    p.entry = std::move(e);
    p.half = file_.half();
    failed_ = false;
    wake_applier = wake_applier || applier_idle_;
  }
  if (wake_applier) wake_.notify_one();
  info.total_bytes = plan_.total_bytes();
  return info;
}

// --- writing into data.mdb ---------------------------------------------------

std::uint64_t journal::next_chunk_id() {
  instadump::detail::lock_guard save(save_mu_);
  if (plan_.planned()) return plan_.next_chunk_id();
  // Without a plan, data.mdb and the snapshots still journaled tell.
  std::uint64_t next = writer_.next_chunk_id();
  instadump::detail::lock_guard lock(mu_);
  for (const pending_snapshot& p : pending_) {
    if (!p.entry.chunks.empty()) next = std::max(next, chunk_id_of(p.entry.chunks.back()) + 1);
  }
  return next;
}

void journal::apply() {
  instadump::detail::lock_guard apply(apply_mu_);
  std::vector<const journal_entry*> batch;
  {
    instadump::detail::lock_guard lock(mu_);
    for (const auto& p : pending_) batch.push_back(&p.entry);  // (a deque's elements stay put while it grows)
  }
  if (batch.empty()) return;
  const std::string what = snapshots_name(batch.front()->snapshot_id, batch.back()->snapshot_id, writer_.env().dir());
  instadump::detail::lock_guard lock(writer_.env().mu);
  if (writer_.env().poisoned()) {
    throw save_failed("instadump: " + what + " cannot be written into data.mdb: an earlier flush of the store "
                      "failed, so its writes can no longer be trusted: " + advice::reopen_store +
                      " (the journal keeps them) and check the disk");
  }
  std::uint64_t freed = 0;
  for (int attempt = 0;; ++attempt) {
    freed = 0;
    try {
      writer_.start_batch();
      lmdb::transaction txn(writer_.env().handle(), 0);
      for (const journal_entry* e : batch) freed += replay_journaled(writer_, txn.get(), *e);
      writer_.finish_batch(txn.get());
      txn.commit();
      break;
    } catch (const lmdb_failure& e) {
      writer_.forget();  // it followed the writes the abort undid: load it again
      if (e.code() == MDB_MAP_FULL && attempt < 16) {
        try {
          std::size_t bytes = 0;
          for (const journal_entry* b : batch) bytes += b->blob.size();
          writer_.env().grow_map(bytes * 2 + (std::size_t{1} << 20));
        } catch (const lmdb_failure& g) {
          throw save_failed("instadump: writing " + what + " into data.mdb failed: the store is full and its map "
                            "cannot grow (" + g.what() + "); the journal keeps them");
        }
        continue;
      }
      if (lmdb::is_io_error(e.code())) writer_.env().poison();
      throw save_failed("instadump: writing " + what + " into data.mdb failed (" +
                        describe_write_failure(e.code(), e.what(), writer_.env().dir()) + "); the journal keeps them");
    } catch (const storage_error& e) {
      writer_.forget();
      writer_.env().poison();  // the journal and data.mdb disagree: do not add to either
      throw save_failed(e.what());
    } catch (...) {
      writer_.forget();
      throw;
    }
  }
  writer_.env().sync_or_poison(what);
  writer_.env().settle_freed_pages(freed);
  instadump::detail::lock_guard lock2(mu_);
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(batch.size()));
  if (pending_.empty()) {
    file_.restart();  // everything journaled is in data.mdb (and a direct write may come next)
  } else {
    oldest_pending_ = std::chrono::steady_clock::now();  // those that came meanwhile wait, too
  }
}

void journal::catch_up() {
  {
    instadump::detail::lock_guard lock(mu_);
    if (pending_.empty()) return;
  }
  try {
    apply();
  } catch (const storage_error& e) {
    throw load_failed(std::string(e.what()) + " (reading needs data.mdb to hold every snapshot written)");
  }
}

// --- the applier -------------------------------------------------------------

bool journal::has_pending_in(int half) const {
  return std::any_of(pending_.begin(), pending_.end(), [&](const pending_snapshot& p) { return p.half == half; });
}

bool journal::ready() const { return !pending_.empty() && !failed_ && !detail::journal_applier_held(); }

void journal::applier_loop() {
  instadump::detail::unique_lock lock(mu_);
  for (;;) {
    applier_idle_ = true;
    while (!stop_ && !ready()) wake_.wait(lock.native());
    applier_idle_ = false;
    if (stop_) return;
    // Let more snapshots join this commit: wait for a pause in saving
    // (journal_delay since the newest), unless saving has moved on to the
    // other half of the journal (which the next switch needs free) or the
    // oldest has waited a second.
    const auto now = std::chrono::steady_clock::now();
    if (!has_pending_in(file_.half() ^ 1) && now < oldest_pending_ + kMaxJournalWait &&
        now < newest_pending_ + delay_) {
      wake_.wait_until(lock.native(), std::min(newest_pending_ + delay_, oldest_pending_ + kMaxJournalWait));
      continue;  // (a save may have come meanwhile: look again)
    }
    lock.unlock();
    bool ok = true;
    try {
      apply();
    } catch (...) {
      // The snapshots stay journaled; a save or read that needs them in
      // data.mdb tries again and reports why it fails. Try again in the
      // background after the next save.
      ok = false;
    }
    lock.lock();
    if (!ok) failed_ = true;
  }
}

void journal::stop_applier() noexcept {
  if (!applier_.joinable()) return;
  {
    instadump::detail::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  applier_.join();
}

}  // namespace instadump::storage
