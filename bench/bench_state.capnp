# Schema of the hand-written codec of the persistence benchmarks' state (a).
@0xe2b7c41d9a5f3806;

struct Int64Value { value @0 :Int64; }
