// Package filestore is the FILE store of stanft: a store.Store kept in a
// directory, used by `-st FILE --dir D` and by fault tolerance (two servers
// sharing D, one active at a time, guarded by package ft).
//
// # Directory layout (format version 1)
//
//	D/stanft-store                 marker: "stanft-store\nformat 1\ncrc-poly <P>\n"
//	D/info.dat                     server info: one record (recInfo)
//	D/clients.log                  client registry: recClientAdd / recClientDel records
//	D/channels/<name>/meta         the channel's name: one record (recChanName)
//	D/channels/<name>/msgs.N.dat   message slice N (N = 1, 2, ...): recMsg records
//	D/channels/<name>/msgs.N.idx   index of slice N: fixed 32-byte entries
//	D/channels/<name>/subs.log     subscriptions: recSub* records
//
// <name> is the channel name with bytes outside [A-Za-z0-9_.-] (and a
// leading '.') written %XX, or "~" and 40 hex digits of its SHA-256 when that
// would exceed 200 bytes; the real name is always read from meta. Files
// whose names start with "stanft." belong to package ft and are never
// touched. Other names that may appear: *.tmp (an interrupted whole-file
// replacement, removed by recovery), *.broken (a cut torn tail, kept for
// inspection), msgs.N.{dat,idx}.bak (slices handed to the archive script),
// channels/.del.<name> (a channel being deleted, removed by recovery),
// truncate_bad_eof.witness (the last start used TruncateBadEOF).
//
// A directory written by nats-streaming-server (server.dat, clients.dat, or
// a top-level directory holding subs.dat) is refused with
// ErrForeignDatastore (SPEC D4).
//
// # Who may touch the directory
//
// Open (which creates the marker and channels/ in a fresh directory),
// Recover and every write must only run in the process that holds the FT
// lock (or in a standalone server); Config.Fence lets that process prove it
// still does. ReadServerInfo and Verify only read, take no lock, and may run
// anywhere (a standby, `stanft store verify`).
//
// Fencing narrows, but cannot close, the window between a successful
// Fence check and the write that follows it: a process that loses the lock
// while alive (an NFS lease lost in a partition) and stalls exactly there
// may still write one batch after a new active recovered. (With a local or
// NFSv4 flock a paused, SIGSTOPped, process keeps its lock, so no standby
// takes over while it is paused.) So that such a late batch is never merged
// silently into acknowledged data, recovery in FT mode (Config.Fence set)
// never appends to a file the previous active had open: the first Store
// starts a new slice, and subs.log and clients.log are rewritten (tmp,
// rename), so late writes land in a slice nobody appends to or in an
// unlinked file. Recovery cuts the records at the end of an older slice
// whose sequences a newer slice holds (the newer slice has the acknowledged
// ones), saving them to .broken with a warning; Verify reports them as
// repairable. A torn record at the end of an older slice stays damage that
// stops startup: a late write is one complete write(2). The rewrite costs two
// fsyncs per channel with subscriptions at activation.
//
// # Records
//
// Every record, in every file, is framed as
//
//	len u32 | crc u32 | type u8 | payload (len bytes)
//
// little endian, where crc is the CRC-32 of type and payload with the
// polynomial recorded in the marker (Config.CRCPoly for a new datastore,
// IEEE by default). Types: 0x01 message (a marshalled pb.MsgProto), 0x02
// server info, 0x03/0x04 client add/delete, 0x10 subscription state, 0x11
// subscription delete, 0x12 sent, 0x13 ack, 0x14 highest subscription ID,
// 0x20 channel name. Payloads other than messages are varints and
// length-prefixed strings (record.go).
//
// An index entry is seq u64 | timestamp i64 | offset u64 | size u32 |
// crc u32: the message's sequence and timestamp, the offset of its record in
// the dat file, its payload length, and the CRC-32 of the first 28 bytes.
// Entry i describes record i of the dat file. Each message costs its
// marshalled size plus 41 bytes on disk (9 of framing, 32 of index);
// MsgStore.State and MaxBytes count its size plus 40, as the reference does.
//
// Whole-file replacement (marker, info.dat, meta, compaction of subs.log and
// clients.log) is: write F.tmp, fsync it, rename it over F, fsync the
// directory.
//
// # Durability (SPEC D9, §7.3)
//
//   - Init, AddClient and CreateChannel are durable on return (fsync), even
//     with DoSync false.
//   - MsgStore.Store buffers; MsgStore.Flush writes the buffer (one write to
//     the dat file, one to the idx file) and, with DoSync, fsyncs the dat
//     file: one fsync per flush, whatever the number of messages (group
//     commit). Index files are fsynced when a slice is rolled, on Close and
//     by auto-sync; recovery rebuilds index entries from the dat file, which
//     is the only source of truth.
//   - SubStore methods buffer; SubStore.Flush writes and fsyncs. Every
//     MsgStore.Flush also hands the channel's pending sent/ack records to the
//     OS, so they never lag past the next flush (they are fsynced by the
//     next SubStore.Flush or auto-sync).
//   - DeleteClient is written at once and fsynced by the next sync.
//   - With DoSync false, data reaches the OS at every flush and the disk at
//     every AutoSync tick (and on Close).
//   - Config.Fence is called before every flush and every early write of a
//     full buffer. Once it fails, nothing more is written and every write
//     fails with ErrFenced (SPEC D5).
//
// # Write errors
//
// When MsgStore.Flush fails (a write or an fsync failed, e.g. ENOSPC or EIO,
// or the fence check failed), every message stored since the last
// successful Flush is discarded and the caller must fail all of their
// publishes: the files are cut back to their last flushed size (retried
// before the next write if the truncation itself fails), the error is
// returned, and the store keeps working: reads are unaffected and later
// writes succeed once the cause (e.g. a full disk) is gone. Previously
// flushed data is never touched.
//
// A MsgStore.Store error concerns its message alone. Store writes a full
// buffer early, and rolls slices; if that fails, the data stays buffered
// (the file is cut back to its last written size), no early write is tried
// again until the next Flush, and that Flush retries and reports.
//
// For subs.log and clients.log, a failed write or fsync cuts the file back
// to its last synced size and queues the unsynced records again; the next
// Flush rewrites them. A failed AddClient is not recorded. Auto-sync never
// writes a batch in progress; it only fsyncs what was flushed.
//
// # Recovery
//
// Recover scans every record of every file and checks its checksum (the
// index makes lookups cheap, not recovery: the scan reads sequentially, about
// 160 MB for a million 128-byte messages). Then:
//
//   - A torn tail, i.e. an invalid record (short, impossible length, wrong
//     type or checksum) after which no valid record starts anywhere in the
//     file, is a write that never completed, so it was never acknowledged:
//     its bytes are copied to FILE.broken, the file is cut, and a warning
//     names the file, offset and size. Only the newest slice may be torn.
//   - Any other invalid record is a *CorruptionError naming the file, the
//     offset and what to do; nothing is modified and the store does not
//     start. Also: a missing meta or info.dat while data exists, sequences
//     not increasing, undecodable payloads.
//   - Index entries that are missing (the index lags its dat file after a
//     crash), do not match the dat file, or a missing index file, are
//     rebuilt from the dat file (logged as a warning when entries were
//     damaged or the file missing). An index is never trusted over data.
//   - Limits (MaxMsgs, MaxBytes, MaxAge) are applied again. Messages removed
//     by limits stay on disk until their whole slice is removed, so raising
//     the limits between two runs can bring back messages not yet reclaimed.
//   - A subscription's LastSent is the maximum of its stored value and of
//     the sequences recorded as sent; its pending set is sent minus acked.
//
// Caveat: after a power loss (not a process crash), a file system may keep
// later pages of an unflushed write and lose earlier ones; the result looks
// like mid-file corruption and is reported as such, never silently dropped.
//
// Long recoveries log progress (channels and messages recovered, rate, estimated time left) every Config.ProgressInterval (5 s). Config.ParallelRecovery channels
// are loaded concurrently.
//
// # Memory
//
// Messages are never all loaded. Per channel the store keeps a few counters
// per slice, a 256-slot cache of recently stored or read messages (up to
// 64 KB each), a read-ahead buffer (Config.ReadBufferSize) and 128 index
// entries read ahead, all released after 10 s idle, and the write buffer
// (up to about Config.BufferSize). Lookup reads the index entry
// (seq - first of its slice, or a binary search when sequences have gaps),
// then the record. The subscription store keeps every subscription and its
// pending set.
//
// # Limits and slices
//
// MaxMsgs and MaxBytes drop the oldest messages as new ones are stored,
// always keeping the newest; MaxAge expires messages about once a second
// (possibly all of them). A slice is rolled when it reaches SliceMaxMsgs,
// SliceMaxBytes (data plus index) or SliceMaxAge; when all three are 0 they
// are a quarter of the channel's limits. A slice (other than the newest)
// whose messages were all removed is deleted, or renamed *.bak and handed to
// SliceArchiveScript (channel, dat.bak, idx.bak), run asynchronously.
// DeleteChannel renames the channel directory aside, then removes it.
// subs.log and clients.log are compacted (rewritten with their live
// records) per CompactEnabled, CompactFragmentation, CompactInterval and
// CompactMinSize.
//
// # Options without effect
//
// TruncateBadEOF does not enable torn-tail truncation (always on, SPEC D10):
// it lets an operator restart after a CorruptionError in the newest slice,
// subs.log or clients.log by cutting that file at the bad record, whatever
// follows (data loss; the bytes are saved to .broken). It is a one-off, as in
// the reference: a start with it leaves truncate_bad_eof.witness, and
// another start with it is refused until a start without it has removed
// that file. DoCRC false only skips checksum
// verification on Lookup; recovery and Verify always verify. FDsLimit is a
// soft cap applied once a second by closing the files of older slices (the
// newest slice of every channel and open subs.log files stay open). CRCPoly
// applies to new datastores only.
//
// # Tests
//
// filestore_test.go runs store/storetest; recovery_test.go damages files
// (torn tails at every offset, flipped bytes, missing index); faults_test.go
// injects write and fsync errors through the package-private vfs seam;
// crash_test.go SIGKILLs a child process writing to the store and checks
// that every acknowledged message survived.
package filestore
