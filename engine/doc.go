// Package engine executes plans over Arrow record batches. Its
// sub-packages are the vectorized expression evaluator (expr), the batch
// operators (exec) and the storage of tables (storage). The planner builds
// operator trees from its plans; the engine knows nothing of SQL text.
package engine
