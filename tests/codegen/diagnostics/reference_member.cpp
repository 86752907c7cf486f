#include "instadump_stub.h"
extern int global;
struct Holder {
  int& r = global;  // expect-error: cannot persist app::holder → Holder::r: references are not supported
};
namespace app {
[[instadump::state]] instadump::ref<Holder> holder;
}
