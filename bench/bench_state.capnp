# Schemas of the hand-written codecs the persistence benchmarks use (what
# instadump-codegen generates for the same C++ types).
@0xe2b7c41d9a5f3806;

struct Int64Value { value @0 :Int64; }
struct Product {
  id @0 :Int64;
  name @1 :Text;
  price @2 :Float64;
  tags @3 :List(Text);
}
struct Products { items @0 :List(Product); }
