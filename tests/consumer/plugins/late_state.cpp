// Added to the target after instadump_add_state, and its state spelled
// through a macro: the scan finds it all the same.
import instadump;

#define DURABLE [[instadump::state]]

namespace host {
DURABLE instadump::ref<long> late_counter{100};
}  // namespace host
