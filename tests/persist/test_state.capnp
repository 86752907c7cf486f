# Schemas of the hand-written codecs used by the persistence tests.
@0xc4f1d2a8b39e7605;

struct Int64Value { value @0 :Int64; }
struct TextValue { value @0 :Text; }
