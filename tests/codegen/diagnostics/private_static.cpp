#include "instadump_stub.h"
class Config {
  [[instadump::state]] static instadump::ref<int> level;
};
instadump::ref<int> Config::level;  // expect-error: a state that is a static data member must be public
