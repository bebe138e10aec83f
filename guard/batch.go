package guard

import (
	"context"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/detector"
)

// Batches: an AWS WAF IP set is written whole (UpdateIPSet) and AWS allows
// about one update per second, so the worker takes every hit already
// queued behind the one it received (without waiting) and decides them as
// one batch: the IP sets' adds are staged by the enforcer and written in
// one Get + Update per set at the end of the batch; then the quiet table
// is updated and the decisions emitted, as for a single hit. Without IP
// sets (or in dry run) the hits are decided one by one as before.

// maxBatch bounds the hits of one batch (the queue bounds them anyway).
const maxBatch = 1000

// staged is a block of a batch, settled once the batch is written.
type staged struct {
	ru     *rule
	hit    detector.Hit
	now    time.Time
	events []ban.Event
}

// drain returns j and the hits queued behind it, up to maxBatch, without
// waiting. A barrier met ends the batch and is returned, to be closed once
// the batch is decided; closed reports the queue closed.
func (g *Guard) drain(j job) (jobs []job, barrier chan struct{}, closed bool) {
	jobs = append(jobs, j)
	for len(jobs) < maxBatch {
		select {
		case next, ok := <-g.flush.hits:
			if !ok {
				return jobs, nil, true
			}
			if next.barrier != nil {
				return jobs, next.barrier, false
			}
			jobs = append(jobs, next)
		default:
			return jobs, nil, false
		}
	}
	return jobs, nil, false
}

// decideAll decides jobs, as one batch when the enforcer has IP sets.
func (g *Guard) decideAll(ctx context.Context, jobs []job) {
	en := g.enf
	if en == nil || !en.started || !en.batches || len(jobs) <= 1 {
		for _, j := range jobs {
			g.decide(ctx, j)
		}
		return
	}
	en.Stage()
	en.staged = []staged{}
	for _, j := range jobs {
		g.decide(ctx, j)
	}
	blocks := en.staged
	en.staged = nil
	evs := make([][]ban.Event, len(blocks))
	for i, b := range blocks {
		evs[i] = b.events
	}
	evs = en.Commit(ctx, g.clock(), evs)
	for i, b := range blocks {
		g.settle(ctx, b.ru, b.hit, b.now, evs[i])
	}
}
