package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrDropped is reported to RunOptions.OnError for each decision the
// Batcher dropped because too many were pending.
var ErrDropped = errors.New("notify: too many decisions pending: oldest dropped")

// RunOptions are Run's dependencies besides its channels.
type RunOptions struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Batcher holds decisions between publishes; nil means
	// NewBatcher(DefaultInterval, DefaultMaxPending). Run owns it while it
	// runs.
	Batcher *Batcher
	// Limiter paces the Publish calls; nil means NewLimiter(DefaultEvery,
	// DefaultBurst). Run owns it while it runs.
	Limiter *Limiter
	// OnError is called on Run's goroutine with the number of decisions
	// that will not be published and why: a failed Publish (the error
	// NotifyBatch would return for it), ErrDropped, or ctx's error when Run
	// stops early. Nil means each is logged at Error level.
	OnError func(lost int, err error)
}

// Run is a notifier loop: it takes decisions from in, holds them in the
// Batcher and, whenever they are due and the Limiter allows, publishes
// them as NotifyBatch does, one message per token. While the Limiter holds
// back, decisions keep collecting and go out together with the next token. It looks at the time
// (opts.Now) when a decision arrives and on every value from tick, so tick
// sets the granularity: a decision goes out at most the batch interval plus
// one tick period after it arrived, while the Limiter has tokens.
//
// Run never blocks the sender beyond its own Publish calls (each bounded by
// the call timeout): the caller gives in a buffer and decides what to do
// when it is full. When in is closed, everything pending is published
// without waiting for the interval, still paced by the Limiter (so tick
// must keep ticking until Run returns), and Run returns once all is
// published or has failed. When ctx is done, Run reports what is left to
// OnError and returns at once; ctx also bounds each Publish.
//
// A Notifier without a topic consumes in and publishes nothing.
func (n *Notifier) Run(ctx context.Context, in <-chan Decision, tick <-chan time.Time, opts RunOptions) {
	r := runner{n: n, now: opts.Now, b: opts.Batcher, l: opts.Limiter, onErr: opts.OnError}
	if r.now == nil {
		r.now = time.Now
	}
	if r.b == nil {
		r.b = NewBatcher(DefaultInterval, DefaultMaxPending)
	}
	if r.l == nil {
		r.l = NewLimiter(DefaultEvery, DefaultBurst)
	}
	if r.onErr == nil {
		r.onErr = func(lost int, err error) {
			n.logger.LogAttrs(ctx, slog.LevelError, "notification failed", slog.Int("decisions", lost), slog.Any("error", err))
		}
	}
	for in != nil || r.busy() {
		select {
		case <-ctx.Done():
			r.abandon(ctx.Err())
			return
		case d, ok := <-in:
			if !ok {
				in, r.draining = nil, true
				break
			}
			if n.api == nil {
				continue
			}
			before := r.b.Dropped()
			r.b.Add(d, r.now())
			if dropped := r.b.Dropped() - before; dropped > 0 {
				r.onErr(int(dropped), ErrDropped)
			}
		case <-tick:
		}
		r.pump(ctx)
	}
}

// runner is the state of one Run.
type runner struct {
	n        *Notifier
	now      func() time.Time
	b        *Batcher
	l        *Limiter
	onErr    func(int, error)
	outbox   []message // messages of the batch being sent, in order
	draining bool      // in is closed: publish without waiting for the interval
}

// busy reports whether decisions wait to be published.
func (r *runner) busy() bool { return len(r.outbox) > 0 || r.b.Pending() > 0 }

// pump publishes what is due while the limiter allows. Decisions are taken
// from the Batcher only when a token is there, so those that arrive while
// the limiter holds back join the next message.
func (r *runner) pump(ctx context.Context) {
	for ctx.Err() == nil {
		now := r.now()
		if len(r.outbox) == 0 && (r.b.Pending() == 0 || !r.draining && !r.b.Due(now)) {
			return
		}
		if !r.l.AllowAt(now) {
			return
		}
		if len(r.outbox) == 0 {
			r.outbox = r.n.batch(r.b.Take())
		}
		m := r.outbox[0]
		r.outbox[0] = message{}
		r.outbox = r.outbox[1:]
		if err := r.n.publish(ctx, m); err != nil {
			r.onErr(m.n, err)
		}
	}
}

// abandon reports the decisions left when ctx ended.
func (r *runner) abandon(err error) {
	lost := r.b.Pending()
	for _, m := range r.outbox {
		lost += m.n
	}
	if lost > 0 {
		r.onErr(lost, fmt.Errorf("notify: %d decisions not published: %w", lost, err))
	}
	r.b.Take()
	r.outbox = nil
}
