package policy

import (
	"time"

	"golang.org/x/time/rate"
)

// Limits are the two token buckets of enforcing, on the caller's clock: new
// blocks (MaxBlocksPerMinute) and writes to the targets (MutateRate,
// MutateBurst). Not safe for concurrent use.
type Limits struct {
	blocks *rate.Limiter
	writes *rate.Limiter
}

// NewLimits returns the buckets of c (after WithDefaults), full. unpaced
// turns write pacing off (a dry run writes nothing).
func (c Config) NewLimits(unpaced bool) *Limits {
	l := &Limits{
		blocks: rate.NewLimiter(rate.Inf, 0),
		writes: rate.NewLimiter(rate.Inf, 0),
	}
	if n := c.MaxBlocksPerMinute; n > 0 {
		l.blocks = rate.NewLimiter(rate.Every(time.Minute/time.Duration(n)), n)
	}
	if c.MutateRate > 0 && !unpaced {
		l.writes = rate.NewLimiter(rate.Limit(c.MutateRate), c.MutateBurst)
	}
	return l
}

// AllowBlock takes one new block's token at now; false means the limit is
// reached and nothing was taken.
func (l *Limits) AllowBlock(now time.Time) bool {
	return l.blocks.AllowN(now, 1)
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
