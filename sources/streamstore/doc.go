// Package streamstore is the embedded, durable, sharded stream store: the
// default home of a stream, with the semantics of Amazon Kinesis Data
// Streams. A stream has shards; a record is routed to a shard by a hash of
// its partition key (round robin without one) and gets a strictly
// increasing per-shard sequence number and an arrival time. Appends are
// acknowledged only once fsynced (group commit: concurrent appends to a
// shard share one write and one fsync). Any number of readers read a shard
// independently from any position: the oldest retained record (trim
// horizon), the latest, after a sequence number, or at a time; a reader at
// the tail waits on a notification, not a polling loop.
//
// On disk, a shard is a directory of segment files named by their first
// sequence number. A segment is a sequence of frames:
//
//	u32 magic 0x53514c31 | u32 payload length | u32 CRC-32C of payload | payload
//	payload: u64 first sequence | u32 record count | i64 arrival time (µs) | rows
//
// with rows in types.AppendRow's encoding. A frame is one append batch.
// Each segment has an index file listing its frames (segindex.go), grown
// every few MB and completed when the segment is sealed, so that opening
// a shard reads its indexes and scans only the bytes they do not cover.
// At start-up a torn or corrupt frame is cut off (at the tail) or skipped
// by scanning for the next valid frame (in the middle), and reported; a
// frame known from an index is checked on its first read, and a damaged
// one skipped and reported then. Nothing acknowledged is ever dropped
// silently. Retention deletes whole
// segments whose newest record is older than the stream's retention.
// Shard ids and parent links (Kinesis-style) leave room for resharding.
package streamstore
