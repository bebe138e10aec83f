package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"
)

// DefaultInterval is Notify_Interval's default: after the first decision of
// a quiet period, the others go out in groups at most this often.
const DefaultInterval = 10 * time.Second

// The default publishing rate: one message a second sustained, bursts of up
// to five. SNS deactivates email subscriptions above 10 messages a second
// (per account), so the default stays well below even in a burst.
const (
	DefaultEvery = time.Second
	DefaultBurst = 5
)

// ErrDropped is reported to PublisherConfig.OnError with the number of
// decisions the Queue dropped because too many were pending.
var ErrDropped = errors.New("notify: too many decisions pending: oldest dropped")

// NewPace returns the limiter that spaces batches: one token, one more
// every interval. An interval of zero (or less) never holds back.
func NewPace(interval time.Duration) *rate.Limiter {
	if interval <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Every(interval), 1)
}

// NewLimit returns the limiter that paces Publish calls: bursts of up to
// burst (at least 1), then one every `every`. every <= 0 means no limit.
// NewLimit(DefaultEvery, DefaultBurst) is the default.
func NewLimit(every time.Duration, burst int) *rate.Limiter {
	if every <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Every(every), max(burst, 1))
}

// PublisherConfig is what a Publisher needs besides its Notifier and Queue.
type PublisherConfig struct {
	// Now returns the current time; nil means time.Now. Give it the same
	// clock as whoever pushes the decisions.
	Now func() time.Time
	// Pace spaces the batches (see NewPace); nil means
	// NewPace(DefaultInterval). The Publisher owns it.
	Pace *rate.Limiter
	// Limit paces the Publish calls, one token per message (see
	// NewLimit); nil means NewLimit(DefaultEvery, DefaultBurst). The
	// Publisher owns it.
	Limit *rate.Limiter
	// OnError is called on the publishing goroutine with the number of
	// decisions that will not be published and why: a failed Publish (the
	// error NotifyBatch would return for it), ErrDropped, or the context's
	// error when Run stops early. Nil means each is logged at Error level.
	OnError func(lost int, err error)
}

// Publisher takes decisions off a Queue and publishes them through a
// Notifier. The policy, on the times Now returns:
//
//   - The first decision after a quiet period goes out at once, in the
//     round the Publisher wakes for it, alone (in the one-decision form).
//   - Decisions that follow within the interval are grouped: all that are
//     pending when the interval has passed go out together (see
//     NotifyBatch), and so on, a group at most every interval (Pace). A
//     full Queue, or a closed one, goes out without waiting for the
//     interval. With no interval every decision is a first one.
//   - Every message takes a token from Limit. While Limit holds back,
//     decisions stay in the Queue and all go out together with the next
//     token; a split batch sends its parts as tokens come.
//
// Round applies this once; Run calls Round whenever the Queue signals or
// tick ticks, so the tick sets how soon a held-back group goes out after
// its time has come. A Publisher starts no goroutines; Round and Run
// belong to one goroutine.
type Publisher struct {
	n     *Notifier
	q     *Queue
	now   func() time.Time
	pace  *rate.Limiter
	limit *rate.Limiter
	onErr func(int, error)
	parts []message // the parts of a split batch not yet sent, in order
	// waiting is set when decisions had to wait (for the interval or a
	// token): they go out together, not one by one.
	waiting bool
}

// NewPublisher returns a Publisher of q's decisions through n. A Notifier
// without a topic takes the decisions and publishes nothing.
func NewPublisher(n *Notifier, q *Queue, cfg PublisherConfig) *Publisher {
	p := &Publisher{n: n, q: q, now: cfg.Now, pace: cfg.Pace, limit: cfg.Limit, onErr: cfg.OnError}
	if p.now == nil {
		p.now = time.Now
	}
	if p.pace == nil {
		p.pace = NewPace(DefaultInterval)
	}
	if p.limit == nil {
		p.limit = NewLimit(DefaultEvery, DefaultBurst)
	}
	if p.onErr == nil {
		p.onErr = func(lost int, err error) {
			n.logger.LogAttrs(context.Background(), slog.LevelError, "notification failed", slog.Int("decisions", lost), slog.Any("error", err))
		}
	}
	return p
}

// Run calls Round whenever q signals or tick ticks, until q is closed and
// everything is published or has failed: the drain is still paced by
// Limit, so tick must keep ticking (and the clock moving) until Run
// returns. When ctx is done, Run reports what is left to OnError and
// returns at once; ctx also bounds each Publish.
func (p *Publisher) Run(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
		case <-p.q.Ready():
		case <-tick:
		}
		if err := ctx.Err(); err != nil {
			p.abandon(err)
			return
		}
		if p.Round(ctx) {
			return
		}
	}
}

// Round publishes what is due at Now while Limit allows, and reports
// whether the Queue is closed and nothing is left to publish.
func (p *Publisher) Round(ctx context.Context) (done bool) {
	for ctx.Err() == nil {
		now := p.now()
		if len(p.parts) == 0 {
			pending, full, closed := p.q.state()
			switch {
			case p.n.api == nil:
				p.take() // no topic: the decisions go, unpublished
				return closed
			case pending == 0:
				// Only the drops: a decision pushed since state() is
				// for the next round, which its signal brings.
				if dropped := p.q.takeDropped(); dropped > 0 {
					p.onErr(dropped, ErrDropped)
				}
				return closed
			}
			early := full || closed
			if !early && !p.paced(now) || !p.limit.AllowN(now, 1) {
				p.waiting = true
				return false
			}
			// Take the pace token; a full or closed Queue that goes out
			// early takes it in advance, so the next group still waits.
			p.pace.ReserveN(now, 1)
			if p.waiting || early {
				p.parts, p.waiting = p.n.batch(p.take()), false
			} else {
				p.parts = p.n.batch(p.takeFirst())
			}
		} else if !p.limit.AllowN(now, 1) {
			return false
		}
		m := p.parts[0]
		p.parts[0] = message{}
		p.parts = p.parts[1:]
		if err := p.n.publish(ctx, m); err != nil {
			p.onErr(m.n, err)
		}
	}
	return false
}

// paced reports whether Pace lets a group go out at now.
func (p *Publisher) paced(now time.Time) bool {
	return p.pace.Limit() == rate.Inf || p.pace.TokensAt(now) >= 1
}

// take takes the pending decisions off the Queue and reports those it
// dropped since the last take.
func (p *Publisher) take() []Decision {
	ds, dropped := p.q.Take()
	if dropped > 0 {
		p.onErr(dropped, ErrDropped)
	}
	return ds
}

// takeFirst takes the oldest pending decision off the Queue, as a batch
// of one.
func (p *Publisher) takeFirst() []Decision {
	d, ok := p.q.takeFirst()
	if !ok {
		return nil
	}
	return []Decision{d}
}

// abandon reports the decisions left when ctx ended.
func (p *Publisher) abandon(err error) {
	lost := len(p.take())
	for _, m := range p.parts {
		lost += m.n
	}
	p.parts = nil
	if lost > 0 {
		p.onErr(lost, fmt.Errorf("notify: %d decisions not published: %w", lost, err))
	}
}
