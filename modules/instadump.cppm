// The instadump module: durable, transactional global state.
//
//   import instadump;
//
// exports the STM (ref, dosync, retry, or_else, after_commit, pinned), the
// persistent collections (pmap, pvector, pset), the state registry, the
// snapshot verbs (setup, save_all, reload_all, ...) and the error types.
// See README.md for a tour and docs/ARCHITECTURE.md for the design.
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
export import :node_memory;
export import :pnode;
export import :collection_errors;
export import :btree_nodes;
export import :btree_edit;
export import :btree;
export import :btree_cursor;
export import :btree_value;
export import :btree_build;
export import :btree_check;
export import :pmap;
export import :pset;
export import :btree_access;
export import :btree_diff;
export import :trie_nodes;
export import :trie;
export import :pvector;
export import :pvector_access;
export import :collection_loaders;
export import :collection_chunks;
export import :chunk_sink;
export import :chunk_deltas;
export import :chunked_state;
export import :chunked_vector_state;
export import :chunked_members;
