#include "system_header_state.h"
// The expected error is in system_header_state.h, which says it is a system
// header: the tool still looks at the declarations of system headers (only
// those of imported modules come from BMIs and are skipped).
