// Package detector decides which client addresses send too many requests.
//
// # Model
//
// A [Detector] is the state of one rule: its [Config] (window, threshold,
// bucket count, memory bound) is the compiled rule, and every client address
// seen spawns a small per-key state, a ring of counters, the way a CrowdSec
// scenario spawns one leaky bucket per group-by key. Named rules, tumbling
// windows, filters and aggregation to /24 or /64 keys are meant to be built
// on this shape later: each rule owns one Detector and keys are 16-byte
// addresses, so a prefix key is a masked address.
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
// Addresses come from log fields as bytes: [ParseAddr] turns them into a
// netip.Addr without allocating, and [Exemptions] says which addresses must
// never be blocked (allowlist, loopback, private networks and the like).
//
// A Detector is not safe for concurrent use; the caller serialises access
// (the guard package holds a mutex around its Detector). Exemptions is
// read-only once built and may be shared.
package detector
