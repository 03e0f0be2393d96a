// Package engine executes plans over Arrow record batches. Its
// sub-packages are the vectorized expression evaluator (expr), the batch
// operators (exec), the storage of tables (storage), the streaming
// operators and their state (dataflow), and the runtime of continuous
// queries (flow). The planner builds
// operator trees from its plans; the engine knows nothing of SQL text.
package engine
