#include "header_state.h"
// The expected error is in header_state.h.
