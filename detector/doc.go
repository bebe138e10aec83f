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
// and never fires again until the caller, whose block has ended or failed,
// calls [Detector.Release].
//
// # Windows
//
// A sliding window (Esper's win:time) is cut into Buckets buckets aligned
// on the Unix epoch. The count at a record's time t includes every record
// of the address in (t-Window, t] and may include those of at most one
// bucket before, never older: it never under-counts and over-counts by at
// most 1/Buckets of the window (5 s of a minute by default).
//
// A tumbling window (Config.Tumbling, Esper's win:time_batch) counts
// batches that start at multiples of Window since the Unix epoch: a
// 1-minute batch is a clock minute, so a log gives the same answers however
// and whenever it is replayed. An address fires as soon as one batch's count
// reaches the threshold, without waiting for the batch's end.
//
// With Config.Distinct either window counts the distinct values of a field
// instead of requests: [Detector.ObserveDistinctAt] takes each value as a
// 64-bit hash ([HashBytes]). An address keeps fewer than Threshold live
// hashes (twice that for a tumbling window's two batches), each with the
// bucket it was last seen in, so values age out with the window; see
// Detector for the memory bound.
//
// # Late records
//
// Lateness is measured against the records, per address: a record older
// than the address's newest but still inside its ring (a sliding window and
// one bucket before it; the current and the previous tumbling batch) counts
// in its own bucket or batch, and may make that batch fire; an older record
// is skipped and counted in Stats.Late. A replayed old log is therefore not
// late for the addresses it alone carries.
//
// # Memory
//
// At most Config.MaxKeys addresses are tracked (DefaultMaxKeys). When the
// table is full, a new address evicts the lightest of a random sample, never
// a quiet one, so a heavy hitter hidden in a spray of one-off addresses keeps
// its count and is caught; evictions are counted in Stats.Evicted. A tracked
// address costs about 140 bytes with a sliding window of 12 buckets, 85 with
// a tumbling one and 240 counting distinct values of a few values each
// (BenchmarkBytesPerKey, 1e6 keys); a spray of 10 million addresses through
// a table of 1 million holds about 150 MB, 100 MB and 250 MB
// (BenchmarkSpray10M).
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
// Proxies and KeyExtractor are read-only once built and may be shared.
package detector
