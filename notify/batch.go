package notify

import "time"

// DefaultInterval is the longest a decision waits in a Batcher before it is
// published (Notify_Interval's default).
const DefaultInterval = 10 * time.Second

// DefaultMaxPending is the number of decisions a Batcher holds before it
// drops the oldest.
const DefaultMaxPending = 10000

// Batcher collects decisions so that a burst of them goes out as one
// message (see NotifyBatch) instead of one message each.
//
// The policy: a decision is held at most the interval. The clock starts
// with the first decision added after a Take; once the interval has passed
// (or max decisions are pending), Due reports true and everything pending
// at that moment is taken and published together. A lone decision is
// therefore delayed by up to the interval, and still goes out in the
// one-decision form; a burst of any size within one interval costs one
// message (or a few, if it is too large for one; see MaxBatchBytes).
// Publishing the first decision of a quiet period at once would save that
// delay but cost a second message for every burst, which is what the
// interval is there to avoid.
//
// A Batcher is bounded: when max decisions are pending, Add drops the
// oldest and counts it in Dropped (the caller has logged every decision
// before it reached the Batcher, so nothing goes unrecorded). Time is an
// argument of every method; a Batcher starts no goroutines and is not safe
// for concurrent use: one goroutine (such as Run) owns it.
type Batcher struct {
	interval time.Duration
	max      int
	pending  []Decision
	since    time.Time // when the first decision pending was added
	dropped  uint64
}

// NewBatcher returns a Batcher that holds decisions at most interval and
// keeps at most maxPending of them. An interval of zero (or less) makes
// every pending decision due at once; maxPending of zero (or less) means
// DefaultMaxPending.
func NewBatcher(interval time.Duration, maxPending int) *Batcher {
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	return &Batcher{interval: max(interval, 0), max: maxPending}
}

// Add adds d, decided at now. When max decisions are already pending, the
// oldest is dropped and counted in Dropped.
func (b *Batcher) Add(d Decision, now time.Time) {
	if len(b.pending) == 0 {
		b.since = now
	}
	if len(b.pending) >= b.max {
		b.pending[0] = Decision{} // let the slices it holds go
		b.pending = b.pending[1:]
		b.dropped++
	}
	b.pending = append(b.pending, d)
}

// Due reports whether the pending decisions should be published at now: the
// oldest has waited the interval, or max are pending. It is false when
// nothing is pending.
func (b *Batcher) Due(now time.Time) bool {
	if len(b.pending) == 0 {
		return false
	}
	return len(b.pending) >= b.max || !now.Before(b.since.Add(b.interval))
}

// Take returns the pending decisions in the order they were added and
// empties the Batcher; nil when nothing is pending. The caller owns the
// returned slice.
func (b *Batcher) Take() []Decision {
	ds := b.pending
	b.pending = nil
	b.since = time.Time{}
	return ds
}

// Pending returns the number of pending decisions.
func (b *Batcher) Pending() int { return len(b.pending) }

// Dropped returns the number of decisions dropped since NewBatcher because
// max were pending.
func (b *Batcher) Dropped() uint64 { return b.dropped }
