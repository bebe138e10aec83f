package guard

import (
	"sync/atomic"
	"time"
)

// What the shared state on Redis tells a metrics collector, read at scrape
// time: counters the sync goroutine and the worker keep with atomics, a
// few loads per scrape.

// SyncRoundBuckets are the upper bounds, in seconds, of the sync round
// duration histogram: a round is one pipelined round trip, a millisecond
// on a near cache, up to Redis_Timeout when Redis does not answer.
var SyncRoundBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// sharedCounters are the shared state's counters for metrics.
type sharedCounters struct {
	roundsOK, roundsFailed atomic.Int64
	roundBuckets           [14]atomic.Uint64 // by SyncRoundBuckets, the last one +Inf; not cumulative
	roundNanos             atomic.Int64
	syncDropped            atomic.Int64 // the Syncer's Dropped after the last round
	claimsWon, claimsLost  atomic.Int64
	claimErrors            atomic.Int64
	merged                 atomic.Int64 // bans of other instances taken in a merge
}

// round counts one finished sync round of duration d.
func (c *sharedCounters) round(d time.Duration, err error, dropped int64) {
	if err != nil {
		c.roundsFailed.Add(1)
	} else {
		c.roundsOK.Add(1)
	}
	i := 0
	for i < len(SyncRoundBuckets) && d.Seconds() > SyncRoundBuckets[i] {
		i++
	}
	c.roundBuckets[i].Add(1)
	c.roundNanos.Add(int64(d))
	c.syncDropped.Store(dropped)
}

// SharedStats are the counters of the shared state on Redis.
type SharedStats struct {
	// RoundsOK and RoundsFailed count the sync rounds that Redis answered
	// and those it did not (unreachable, timeout).
	RoundsOK, RoundsFailed int64
	// RoundCounts are the rounds per SyncRoundBuckets bucket, cumulative
	// (Prometheus's le), RoundCount all of them; RoundSeconds their
	// total time.
	RoundCounts  []uint64
	RoundCount   uint64
	RoundSeconds float64
	// Up tells whether the last call to Redis succeeded.
	Up bool
	// Dropped counts the counts never synced: beyond Redis_Max_Pending in
	// the detectors between two rounds, or held from failed rounds.
	Dropped int64
	// ClaimsWon, ClaimsLost count the trips this instance acted on and
	// those another instance had claimed; ClaimErrors those Redis did not
	// answer (the instance acted alone).
	ClaimsWon, ClaimsLost, ClaimErrors int64
	// Merged counts the bans of other instances this one took from Redis.
	Merged int64
}

// SharedStats returns the counters of the shared state, and false without
// Redis_URL. It holds the flush lock for a moment (a load per rule).
func (g *Guard) SharedStats() (SharedStats, bool) {
	s := g.shared
	if s == nil {
		return SharedStats{}, false
	}
	c := &s.stats
	st := SharedStats{
		RoundsOK: c.roundsOK.Load(), RoundsFailed: c.roundsFailed.Load(),
		RoundCounts:  make([]uint64, len(SyncRoundBuckets)),
		RoundSeconds: time.Duration(c.roundNanos.Load()).Seconds(),
		Up:           !s.down.Load(),
		Dropped:      c.syncDropped.Load(),
		ClaimsWon:    c.claimsWon.Load(), ClaimsLost: c.claimsLost.Load(), ClaimErrors: c.claimErrors.Load(),
		Merged: c.merged.Load(),
	}
	var sum uint64
	for i := range st.RoundCounts {
		sum += c.roundBuckets[i].Load()
		st.RoundCounts[i] = sum
	}
	st.RoundCount = sum + c.roundBuckets[len(SyncRoundBuckets)].Load()
	f := &g.flush
	f.mu.Lock()
	for _, ru := range f.rules {
		st.Dropped += ru.det.SharedDropped()
	}
	f.mu.Unlock()
	return st, true
}
