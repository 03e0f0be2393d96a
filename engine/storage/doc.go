// Package storage keeps the rows of TABLEs: in memory for reads, with every
// change appended to a checksummed log in the data directory and fsynced
// before the statement returns, so rows survive a restart and a crash.
//
// Log format: a sequence of records, each
//
//	u32 payload length | u32 CRC-32C of payload | payload
//
// where a payload is one statement's change set:
//
//	u8 flags (1 = truncate first) | u32 deletes | u64 row id ... |
//	u32 inserts | (u64 row id | per column: u8 null | u32 len | value) ...
//
// Values use the PostgreSQL binary format of their type. A torn or corrupt
// tail (a crash mid-write) is cut off at start-up.
package storage
