// Package shared is the state several dosguard instances share on Redis OSS
// or Valkey (Amazon ElastiCache, cluster mode or not): global counts and
// one set of bans.
//
// # Counts
//
// Each instance counts locally in its detectors, as without Redis; the
// flush never waits on Redis. A [Syncer] round, run every Sync_Interval by
// one goroutine, sends what each rule counted since the last round (per
// address and window bucket, detector.Delta) and reads the global windowed
// count back, in one pipelined round trip: one Lua script per address,
// touching only that address's keys, which share the hash tag {address}, so
// every script is single-slot in cluster mode. A rule's counts of an
// address live in one hash, one field per bucket, expiring one bucket after
// the window. The others' count (global minus own) is handed back to the
// detector, which adds it to its own when it checks the threshold.
//
// # Bans
//
// [Bans] is a store.Store on one Redis hash (a field per banned prefix)
// plus claims: an instance claims an address (SET NX) before it blocks or
// reports it, so one instance acts per trip; ClaimEnd (a compare-and-delete
// script) lets exactly one instance end a ban that is due, even when its
// creator is gone. Each round also reads the bans, so every instance holds
// the others' bans quiet.
//
// # Failures
//
// Every call has a timeout. When Redis does not answer, the round fails:
// the instance logs one warning, counts locally (its detectors still trip
// at the threshold on their own share) and keeps the deltas of the failed
// round, bounded, for the next; one line when Redis answers again.
package shared
