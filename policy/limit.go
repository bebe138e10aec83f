package policy

import (
	"time"

	"golang.org/x/time/rate"
)

// Limits are the two limits of enforcing, on the caller's clock: new blocks
// (MaxBlocksPerMinute, at most that many in any sliding minute) and writes
// to the targets (MutateRate, MutateBurst: a token bucket, as AWS's own).
// Not safe for concurrent use.
type Limits struct {
	blocks minuteWindow
	writes *rate.Limiter
}

// minuteWindow allows at most max events in any minute (t-1m, t]; max 0 is
// unlimited. It is kept by hand rather than as a rate.Limiter: a token
// bucket of burst max refilled max a minute lets up to twice max through
// within one minute (a full bucket, then its refill), and
// Max_Blocks_Per_Minute is a guardrail meant to hold exactly.
type minuteWindow struct {
	max   int
	times []time.Time // ascending, within the last minute
}

func (w *minuteWindow) allow(now time.Time) bool {
	if w.max <= 0 {
		return true
	}
	cut := 0
	for cut < len(w.times) && !w.times[cut].After(now.Add(-time.Minute)) {
		cut++
	}
	w.times = w.times[cut:]
	if len(w.times) >= w.max {
		return false
	}
	w.times = append(w.times, now)
	return true
}

// NewLimits returns the limits of c (after WithDefaults), nothing used. unpaced
// turns write pacing off (a dry run writes nothing).
func (c Config) NewLimits(unpaced bool) *Limits {
	l := &Limits{
		blocks: minuteWindow{max: max(c.MaxBlocksPerMinute, 0)},
		writes: rate.NewLimiter(rate.Inf, 0),
	}
	if c.MutateRate > 0 && !unpaced {
		l.writes = rate.NewLimiter(rate.Limit(c.MutateRate), c.MutateBurst)
	}
	return l
}

// AllowBlock counts one new block at now; false means MaxBlocksPerMinute
// blocks were allowed in the minute up to now, and nothing was counted.
func (l *Limits) AllowBlock(now time.Time) bool {
	return l.blocks.allow(now)
}

// ReserveWrites takes n write tokens at now, even when too few are left,
// and returns how long to wait before writing, and cancel to give the
// tokens back if the writes are not made. ok is false when n exceeds the
// burst: the writes can never be made at once.
func (l *Limits) ReserveWrites(now time.Time, n int) (wait time.Duration, cancel func(), ok bool) {
	if n <= 0 {
		return 0, func() {}, true
	}
	r := l.writes.ReserveN(now, n)
	if !r.OK() {
		return 0, func() {}, false
	}
	return r.DelayFrom(now), func() { r.CancelAt(now) }, true
}
