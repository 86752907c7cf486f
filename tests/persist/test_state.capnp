# Schemas of the hand-written codecs used by the persistence tests.
@0xc4f1d2a8b39e7605;

struct Int64Value { value @0 :Int64; }
struct TextValue { value @0 :Text; }

# Scalar fields of every width, some in holes of earlier words, for the
# test of codec_support::scalar_struct_words.
struct Scalars {
  mid @0 :Int32;
  flag @1 :Bool;
  wide @2 :Int64;
  ratio @3 :Float32;
  tiny @4 :Int8;
  small @5 :UInt16;
  other @6 :Bool;
  precise @7 :Float64;
  huge @8 :UInt64;
}

# A map of Int64 to Int64 (the hand-written codec of a pmap state).
struct Int64Map {
  keys @0 :List(Int64);
  values @1 :List(Int64);
}

# A list of Int64 (the hand-written codec of a pvector state).
struct Int64List {
  values @0 :List(Int64);
}

# A struct state with a pmap member (the hand-written codec of a state whose
# member is stored node by node: chunked_members_test.cpp).
struct Holder {
  tick @0 :Int64;
  numbers @1 :Int64Map;
}

# A struct state with two pmap members, one inside a struct (members that
# save deltas and trees in the same save: chunked_members_test.cpp).
struct TwoMaps {
  first @0 :Int64Map;
  inner @1 :Inner;
  struct Inner {
    second @0 :Int64Map;
  }
}
