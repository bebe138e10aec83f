// Package detector decides which client addresses send too many requests.
//
// # Model
//
// A [Detector] is the state of one rule: its [Config] (window, threshold,
// bucket count, memory bound) is the compiled rule, and every client address
// seen spawns a small per-key state, a ring of counters, the way a CrowdSec
// scenario spawns one leaky bucket per group-by key. Each rule owns one
// Detector and keys are 16-byte addresses, so a prefix key is a masked
// address.
//
// Time comes from the records, never from the clock: [Detector.ObserveAt]
// takes the record's own timestamp, so a replayed log gives the same answers
// as the live one and tests walk a fixed timeline. Expiry of idle keys is an
// explicit call, [Detector.SweepAt], made by the caller with the newest record
// time it has seen; nothing here starts a goroutine.
//
// When an address's windowed count reaches the threshold, ObserveAt returns a
// [Hit] once and the address turns quiet: it stays tracked, is never evicted
// and never fires again while it is quiet. Whether it still is, the
// Detector asks [Config.Quiet] (the guard's quiet table: a pending decision,
// a ban, a cool-down, a back-off) whenever the address records again or is
// considered for eviction or sweeping; once the answer is no, its counts
// start from zero. Without a Quieter it stays quiet until [Detector.Release].
//
// # Windows
//
// A sliding window (Esper's win:time) is cut into Config.Buckets buckets of
// width w = Window/Buckets, aligned on the Unix epoch (when Buckets does not
// divide Window in nanoseconds, w is rounded up and the window with it, by
// less than Buckets nanoseconds). Each address keeps a ring of Buckets+1
// counters driven by its newest record: when that record is at t, the ring
// holds the buckets from the one containing t-Window to the one containing
// t. The count at t therefore includes every record of the address in
// (t-Window, t] and may include those in (t-Window-w, t-Window], never
// older: it never under-counts and over-counts by at most 1/Buckets of the
// window (5 s of a minute with the default 12 buckets).
//
// A tumbling window (Config.Tumbling, Esper's win:time_batch) counts
// batches: batch k holds the records in [k*Window, (k+1)*Window) of Unix
// time, so a 1-minute batch is a clock minute and a 1-hour batch a UTC hour,
// and a log gives the same answers however and whenever it is replayed.
// Each batch is counted apart, from zero, and an address fires as soon as
// one batch's count reaches the threshold, without waiting for the batch's
// end. Each address keeps two counters: its newest record's batch and the
// one before.
//
// With Config.Distinct either window counts the distinct values of a field
// instead of requests: [Detector.ObserveDistinctAt] takes each value as a
// 64-bit hash ([HashBytes]); repeats are free, and two values are the same
// when their hashes agree in the top 63 bits. An address keeps a set of
// hashes, each with the bucket (or batch) it was last seen in, so values age
// out of a sliding window as records do, with the same bound, and a
// tumbling batch starts empty. A set holds fewer than Threshold live values
// (at Threshold the address fires and its set is freed; a tumbling set spans
// two batches, so twice that).
//
// # Late records
//
// Lateness is judged per address, against its newest record: a record older
// than the newest but still inside its ring (a sliding window and one bucket
// before it; the current and the previous tumbling batch) counts in its own
// bucket or batch, and may make that batch fire; an older record is skipped
// and counted in Stats.Late. The tolerance is measured against the records,
// never the wall clock. A newer record moves the ring forward however far:
// one record stamped in the future empties the address's ring and makes its
// following present-day records late. A replayed old log interleaved with
// live traffic is therefore not late for the addresses it alone carries.
//
// # Memory
//
// At most Config.MaxKeys addresses are tracked (DefaultMaxKeys), quiet ones
// included. An address costs a 32-byte entry, 2*(Buckets+1) bytes of
// counters (4 once any bucket of the table has held more than 65535: the
// counters then widen, all at once, and never saturate) and an 8-byte slot
// of an open-addressing index kept 3/8 to 3/4 full, none holding a pointer
// for the garbage collector to scan: about 77 bytes with a sliding window of
// 12 buckets once index load and slice growth are counted, 54 with a
// tumbling window's 2 counters (BenchmarkBytesPerKey, 1e6 keys). Distinct
// adds a 16-byte set that holds an address's value while it has one: about
// 95 bytes for such an address. From its second live value on, the values
// move to a table of at least 4 slots of 16 bytes, with a 32-byte header;
// tables are reused. A table has at most the power of two at or above 4/3
// of its set's bound in slots: under 43 bytes per unit of threshold per
// address for a sliding window, 86 for a tumbling one, and MaxKeys times
// that for the whole Detector; most addresses send far fewer values than
// the threshold and keep the 4-slot table they start with.
// [Detector.SweepAt] drops addresses whose ring lies wholly before the
// window.
//
// When the table is full, a new address evicts the lightest of 8
// consecutive entries from a random position: lowest count in its ring at
// the new record's time (for a tumbling window, both batches), then oldest
// newest record. Quiet entries are never evicted (a fired entry that is no
// longer quiet weighs nothing); if all eight are quiet the
// new address is not tracked (Stats.Dropped). Evictions are counted in
// Stats.Evicted. A heavy hitter hidden in a spray of one-off addresses keeps
// a count above theirs and survives (TestSprayMemory); only while it has a
// single record in its ring is it as light as they are, so when the table
// turns over faster than it sends it may lose its first records, never
// more. A spray of 10 million addresses through a table of 1 million holds
// about 75 MB sliding, 50 MB tumbling and 90 MB counting distinct values
// (BenchmarkSpray10M).
//
// # Rules and conditions
//
// A [RuleSpec] is one rule as a user writes it, structured or as a Norikra
// query ([ParseQuery]). [RuleSpec.Compile] checks it and compiles its WHERE,
// a small SQL over the record's fields ([CompileCond], [Cond]), once: the
// caller builds the rule's Detector from the spec's window and threshold and
// counts a record only when the spec's Cond holds for it ([Cond.Eval], which
// does not allocate).
//
// # Addresses
//
// Addresses come from log fields as bytes: [ParseAddr] turns them into a
// netip.Addr without allocating, and [Exemptions] says which addresses must
// never be blocked (allowlist, loopback, private networks and the like) and,
// with [Exemptions.Overlaps], which prefixes hold such an address. Behind
// load balancers the client is in an X-Forwarded-For chain: [ClientAddr]
// reads it from the right, skipping trusted [Proxies], so a forged entry can
// never get an address blocked, and a [KeyExtractor] combines it with a
// fallback peer-address field for every record.
//
// A Detector is not safe for concurrent use; the caller serialises access
// (the guard package holds a mutex around its Detectors). Exemptions,
// Proxies, KeyExtractor and Cond are read-only once built and may be shared.
package detector
