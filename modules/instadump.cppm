// The instadump module: durable, transactional global state.
//
//   import instadump;
//
// exports the STM (ref, dosync, retry, or_else, after_commit, pinned), the
// state registry, the snapshot verbs (setup, save_all, reload_all, ...) and
// the error types. See README.md for a tour and docs/ARCHITECTURE.md for the
// design.
export module instadump;

export import :errors;
export import :spin;
export import :node_pool;
export import :version;
export import :ref_core;
export import :clock;
export import :pins;
export import :write_index;
export import :transaction;
export import :ref;
export import :dosync;
export import :registry;
export import :session;
