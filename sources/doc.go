// Package sources holds where data comes from: the embedded stream store
// (streamstore) today, and connectors (Kafka, Kinesis, files, generators)
// as they arrive.
package sources
