// Package dataflow is the streaming runtime's core: changelog messages
// (Arrow batches with a weight per row, watermarks, checkpoint barriers), the
// order-preserving key encoding and keyed state that operators keep, window
// assignment (TUMBLE, HOP), and operators that are correct under
// retractions, such as the incremental aggregate. It follows the Z-set
// model of DBSP and Materialize: an update is a retraction of the old row
// (weight −1) and an insertion of the new one (+1).
package dataflow
