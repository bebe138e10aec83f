package notify

import "sync"

// DefaultMaxPending is the number of decisions a Queue holds before it
// drops the oldest.
const DefaultMaxPending = 10000

// Queue is the one buffer between whoever decides (the guard's worker) and
// the goroutine that publishes (Publisher.Run): a bounded list of pending
// decisions with one drop policy. Push never blocks: when max decisions are
// pending it drops the oldest and counts it; Take hands the publisher
// everything pending together with the number dropped since the last Take,
// so every drop is reported once, with the batch it was cut from. Ready
// wakes the publisher: it has room for one signal, sent by Push and Close.
//
// A Queue is safe for concurrent use by one pusher and one taker (or more).
type Queue struct {
	mu      sync.Mutex
	pending []Decision
	max     int
	dropped int  // since the last Take
	closed  bool // no more Push
	ready   chan struct{}
}

// NewQueue returns a Queue that keeps at most maxPending decisions; zero
// or less means DefaultMaxPending.
func NewQueue(maxPending int) *Queue {
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	return &Queue{max: maxPending, ready: make(chan struct{}, 1)}
}

// Push adds d and wakes the publisher; it never blocks. When max decisions
// are already pending, the oldest is dropped and counted for the next Take.
// After Close, d itself is dropped and counted.
func (q *Queue) Push(d Decision) {
	q.mu.Lock()
	switch {
	case q.closed:
		q.dropped++
	case len(q.pending) >= q.max:
		q.pending[0] = Decision{} // let the slices it holds go
		q.pending = append(q.pending[1:], d)
		q.dropped++
	default:
		q.pending = append(q.pending, d)
	}
	q.mu.Unlock()
	q.signal()
}

// Close marks the end of the decisions and wakes the publisher, which then
// publishes what is pending without waiting for the interval and returns.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// Ready is signalled after each Push and Close; a signal not yet received
// stands for any number of them.
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Take returns the pending decisions in the order they were pushed, and how
// many were dropped since the last Take, and empties the Queue. The caller
// owns the returned slice.
func (q *Queue) Take() (ds []Decision, dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ds, dropped = q.pending, q.dropped
	q.pending, q.dropped = nil, 0
	return ds, dropped
}

// takeDropped returns the number dropped since the last Take (or
// takeDropped) and resets it, leaving the pending decisions.
func (q *Queue) takeDropped() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.dropped
	q.dropped = 0
	return n
}

// takeFirst removes and returns the oldest pending decision; false when
// none is pending. Drops stay counted for the next Take.
func (q *Queue) takeFirst() (Decision, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		return Decision{}, false
	}
	d := q.pending[0]
	q.pending[0] = Decision{}
	q.pending = q.pending[1:]
	return d, true
}

// state returns the number pending, whether that is max, and whether the
// Queue is closed.
func (q *Queue) state() (pending int, full, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending), len(q.pending) >= q.max, q.closed
}

// Len returns the number of pending decisions.
func (q *Queue) Len() int {
	n, _, _ := q.state()
	return n
}

func (q *Queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // a signal is already waiting
	}
}
