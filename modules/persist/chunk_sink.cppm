// chunk_sink: the chunks one save writes for the states saved node by node,
// built in place in a few large zeroed blocks.
//
// A 1M-entry map writes ~9,000 chunks (~70,000 before leaf groups) on its
// first save. Each one used to
// cost a Cap'n Proto builder with its own zeroed 8 KiB first segment, a
// vector for the chunk and a copy of the payload into it. Here a leaf's
// payload is encoded by a MessageBuilder whose first segment is the free
// tail of the current block, right after the room left for the chunk's
// header: when the message fits that one segment (a leaf almost always
// does), the chunk is the header written in front of it and sealed, with
// no copy and no allocation. Blocks come from calloc, so their pages are
// zero when fresh; capnp only writes the words it allocates, so the unused
// rest of a block stays zero for the next chunk.
module;
#include "instadump/capnp_compat.h"
#include <capnp/message.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "storage/chunk_format.h"
#include "storage/snapshot_types.h"
export module instadump:chunk_sink;
import :pnode;
import :collection_chunks;

namespace instadump::detail {

struct free_words {
  void operator()(capnp::word* p) const noexcept { std::free(p); }
};
using word_block = std::unique_ptr<capnp::word[], free_words>;

inline word_block zeroed_words(std::size_t n) {
  auto* p = static_cast<capnp::word*>(std::calloc(n, sizeof(capnp::word)));
  if (!p) throw std::bad_alloc();
  return word_block(p);
}

// A message builder whose first segment is given (zeroed words the caller
// owns and keeps after the builder is gone: unlike MallocMessageBuilder's
// scratch space, it is not zeroed again on destruction) and whose further
// segments, if the message outgrows it, come from the heap.
class in_place_message final : public capnp::MessageBuilder {
 public:
  explicit in_place_message(kj::ArrayPtr<capnp::word> first) : first_(first) {}

  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimum_words) override {
    if (!first_given_) {
      first_given_ = true;
      if (minimum_words <= first_.size()) return first_;
    }
    const std::size_t n = std::max<std::size_t>(minimum_words, first_.size());
    return {more_.emplace_back(zeroed_words(n)).get(), n};
  }

 private:
  kj::ArrayPtr<capnp::word> first_;
  bool first_given_ = false;
  std::vector<word_block> more_;
};

}  // namespace instadump::detail

export namespace instadump::detail {

// Collects the chunks one save writes (the session gives it the store's
// next_chunk_id), and the node each was written for (none for a delta's
// chunks), to tag once the store accepted the snapshot. Chunk ids increase, so a chunk's id is above its
// children's: they are added first.
class chunk_sink {
 public:
  explicit chunk_sink(std::uint64_t first_id) : next_id_(first_id) {}

  // Adds a chunk of `schema` for `node` with a copy of `payload`; returns
  // its id.
  std::uint64_t add(const storage::schema_identity& schema, std::uint64_t node_type,
                    std::span<const std::uint64_t> children, kj::ArrayPtr<const capnp::word> payload,
                    const node_header* node) {
    const std::uint64_t id = next_id_++;
    const std::size_t words = storage::chunk_bytes(children.size(), payload.size()) / sizeof(capnp::word);
    const std::span<std::byte> chunk = std::as_writable_bytes(room(words).first(words));
    storage::write_chunk_header(chunk, id, schema, node_type, children);
    if (payload.size() != 0) std::memcpy(storage::chunk_payload(chunk).data(), payload.begin(), payload.size() * 8);
    storage::seal_chunk(chunk);
    keep(id, words, node);
    return id;
  }

  // Adds a chunk without children of `schema` for `node`, whose payload
  // encode(capnp::MessageBuilder&) builds as the state's codec message,
  // straight into the chunk's place; returns its id. Throws save_failed if
  // the message does not fit one segment even when given room for all of it.
  template <class Encode>
  std::uint64_t add_encoded(const storage::schema_identity& schema, std::uint64_t node_type, Encode&& encode,
                            const node_header* node) {
    const std::uint64_t id = next_id_++;
    constexpr std::size_t header_words = storage::kChunkHeaderBytes / sizeof(capnp::word);
    std::size_t want = payload_words_hint;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const std::span<capnp::word> free = room(header_words + want);
      const kj::ArrayPtr<capnp::word> first(free.data() + header_words, free.size() - header_words);
      std::size_t used = 0;
      std::size_t total = 0;
      {
        in_place_message message(first);
        encode(message);
        const auto segments = message.getSegmentsForOutput();
        const bool in_place = segments.size() > 0 && segments[0].begin() == first.begin();
        if (in_place && segments.size() == 1) {
          used = segments[0].size();
        } else {
          // (Rare: a leaf of large entries.) The words written in place go
          // back to zero, and the next attempt has room for all of them.
          if (in_place) std::memset(free.data() + header_words, 0, segments[0].size() * sizeof(capnp::word));
          for (auto s : segments) total += s.size();
        }
      }
      if (total == 0) {
        const std::size_t words = header_words + used;
        const std::span<std::byte> chunk = std::as_writable_bytes(free.first(words));
        storage::write_chunk_header(chunk, id, schema, node_type, {});
        storage::seal_chunk(chunk);
        keep(id, words, node);
        return id;
      }
      want = total + 8;
    }
    throw save_failed("instadump: a collection's leaf does not fit one Cap'n Proto segment");
  }

  // The chunks for snapshot_delta::chunks (valid while this sink is).
  std::vector<storage::new_chunk> chunks() const {
    std::vector<storage::new_chunk> out;
    out.reserve(written_.size());
    for (const written& w : written_) out.push_back({w.id, w.bytes});
    return out;
  }
  std::size_t count() const noexcept { return written_.size(); }
  std::uint64_t bytes() const noexcept { return total_bytes_; }
  // The epoch the nodes added from now on are tagged with: their owner's
  // (a state, or one member of a struct state). Owners have epochs of their
  // own because one node may be in several of them (a map set into two
  // states, or into two members), and a chunk is one owner's: its payload is
  // that owner's message. The owner that wrote a node last tags it, and the
  // others write it again instead of referring to a chunk they cannot read.
  void set_epoch(std::uint64_t epoch) noexcept { epoch_ = epoch; }
  // After the store accepted the snapshot: each written node carries its
  // chunk's tag. REQUIRES: the nodes are alive (their values are held).
  void tag_written() const noexcept {
    for (const written& w : written_) {
      if (w.node) node_inspection::set_stored_tag(w.node, chunk_tags::pack(w.epoch, w.id));
    }
  }

 private:
  // Words of a payload a chunk's place starts with: most leaves and leaf
  // groups (up to 128 entries) fit.
  static constexpr std::size_t payload_words_hint = 4096;
  // Blocks grow from 64 KiB (a save of a few changed nodes) to 4 MiB.
  static constexpr std::size_t first_block_words = std::size_t{8} << 10;
  static constexpr std::size_t max_block_words = std::size_t{512} << 10;

  struct written {
    std::uint64_t id;
    std::span<const std::byte> bytes;
    const node_header* node;
    std::uint64_t epoch;
  };

  // The zeroed free words at the end of the current block, at least
  // `words` of them (a new block if the current one has fewer).
  std::span<capnp::word> room(std::size_t words) {
    if (free_.size() < words) {
      const std::size_t n = std::max(words, block_words_);
      block_words_ = std::min(block_words_ * 2, max_block_words);
      free_ = {blocks_.emplace_back(zeroed_words(n)).get(), n};
    }
    return free_;
  }
  // The first `words` words of room() are chunk `id` now, written for `node`.
  void keep(std::uint64_t id, std::size_t words, const node_header* node) {
    written_.push_back({id, std::as_bytes(free_.first(words)), node, epoch_});
    free_ = free_.subspan(words);
    total_bytes_ += words * sizeof(capnp::word);
  }

  std::uint64_t next_id_;
  std::vector<word_block> blocks_;
  std::span<capnp::word> free_;
  std::size_t block_words_ = first_block_words;
  std::vector<written> written_;
  std::uint64_t total_bytes_ = 0;
  std::uint64_t epoch_ = 0;
};

}  // namespace instadump::detail
