// libFuzzer target: arbitrary bytes as a stored manifest, a stored meta
// record, and a stored value decoded with reader_options_for().
//
// The decoders must never crash, hang or allocate without bound on any
// input, and may only report bad input as instadump::corrupt_data (any other
// exception escapes and libFuzzer reports it as a crash).
#include "instadump/capnp_compat.h"  // before any Cap'n Proto header

#include <capnp/any.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/errors.h"
#include "storage/manifest_codec.h"

using namespace instadump::storage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);

  try {
    const snapshot_info info = decode_manifest(bytes, "fuzz input");
    // What the store does with a decoded manifest: re-encode it on the next save.
    (void)encode_manifest(info);
  } catch (const instadump::corrupt_data&) {
  }
  try {
    (void)decode_store_meta(bytes, "fuzz input");
  } catch (const instadump::corrupt_data&) {
  }

  // A value: the store hands whole words to the loader, which decodes them
  // with reader_options_for(). Walking the whole message (targetSize) visits
  // every pointer, as a generated loader would.
  const std::span<const std::byte> whole = bytes.first(size - size % sizeof(capnp::word));
  aligned_words words(whole);
  try {
    capnp::FlatArrayMessageReader reader(words.words(), reader_options_for(words.words().size()));
    (void)reader.getRoot<capnp::AnyPointer>().targetSize();
  } catch (const kj::Exception&) {
  }
  return 0;
}
