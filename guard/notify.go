package guard

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/notify"
)

// notes is the guard's notification path: one bounded queue of decisions
// between the worker, which pushes and never waits, and the publisher
// goroutine, which sends them to SNS on the guard's clock (the first after
// a quiet period at once, the rest grouped within Notify_Interval, paced
// for SNS). Decisions the queue drops, and those SNS refuses, are counted
// in Stats.NotifyErr and logged once per batch.
type notes struct {
	notifier *notify.Notifier
	q        *notify.Queue
	pub      *notify.Publisher
	tick     <-chan time.Time // Deps.NotifyTick; nil until Start makes one
	done     chan struct{}    // closed when the publisher has returned
}

// newNotes builds the notification path for cfg on the clock now; lost
// counts the decisions that will not be published.
func newNotes(cfg conf.Config, deps Deps, now func() time.Time, logger *slog.Logger, lost *atomic.Int64) (*notes, error) {
	n, err := notify.New(notify.Config{
		TopicARN: cfg.TopicARN, Subject: cfg.Subject, CallTimeout: cfg.AWSTimeout,
	}, deps.SNS, logger)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	q := notify.NewQueue(notify.DefaultMaxPending)
	pub := notify.NewPublisher(n, q, notify.PublisherConfig{
		Now:  now,
		Pace: notify.NewPace(cfg.NotifyInterval),
		OnError: func(n int, err error) {
			lost.Add(int64(n))
			logger.Error("notification failed", "decisions", n, "error", err)
		},
	})
	return &notes{notifier: n, q: q, pub: pub, tick: deps.NotifyTick}, nil
}

// push hands d to the publisher without waiting; nothing when there is no
// topic (the log is then the only record).
func (ns *notes) push(d notify.Decision) {
	if ns.notifier.Enabled() {
		ns.q.Push(d)
	}
}

// start runs the publisher goroutine until drain, or until ctx ends (then
// what is pending is counted as lost).
func (ns *notes) start(ctx context.Context, tick <-chan time.Time) {
	ns.done = make(chan struct{})
	go func() {
		defer close(ns.done)
		ns.pub.Run(ctx, tick)
	}()
}

// drain closes the queue and waits until the publisher has published what
// was pending (still paced for SNS) or ctx, given to start, ended.
func (ns *notes) drain() {
	ns.q.Close()
	<-ns.done
}
