package notify_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
	"golang.org/x/time/rate"
)

// fakeClock is the publisher's injected now: t0 plus an offset the test
// sets. Only the test's goroutine moves it.
type fakeClock struct{ offset time.Duration }

func (c *fakeClock) Now() time.Time { return t0.Add(c.offset) }

// lost is one OnError report.
type lost struct {
	n   int
	err error
}

// pubRig is a Publisher on a fake clock, publishing to a notifytest.Server.
// Tests call Round themselves, as Run does when the Queue signals or a
// tick comes: no goroutine, no waiting.
type pubRig struct {
	s     *notifytest.Server
	clock *fakeClock
	q     *notify.Queue
	p     *notify.Publisher
	lost  []lost
}

func newPubRig(t *testing.T, max int, pace, limit *rate.Limiter) *pubRig {
	t.Helper()
	r := &pubRig{s: newServer(t), clock: &fakeClock{}, q: notify.NewQueue(max)}
	n := newNotifier(t, notify.Config{TopicARN: topic}, r.s.Client(t))
	r.p = notify.NewPublisher(n, r.q, notify.PublisherConfig{
		Now: r.clock.Now, Pace: pace, Limit: limit,
		OnError: func(n int, err error) { r.lost = append(r.lost, lost{n, err}) },
	})
	return r
}

// hostLists returns the hosts of each stored message, and checks that each
// one with a single host used the one-decision form.
func hostLists(t *testing.T, msgs []notifytest.Message) [][]string {
	t.Helper()
	var lists [][]string
	for i, m := range msgs {
		hs, b := hostsIn(t, m.Body)
		if len(hs) == 1 && b != nil {
			t.Errorf("message %d holds one decision in the batch form, want the one-decision form", i)
		}
		lists = append(lists, hs)
	}
	return lists
}

// roundStep is one step on the timeline: set the clock to at, then push a
// decision for host, or only wake the publisher ("round", as a tick does),
// or close the queue; then one Round, after which want messages are
// stored.
type roundStep struct {
	at       time.Duration
	op       string // "push", "round" or "close"
	host     string // "a,b" pushes two before the round
	want     int    // messages stored so far
	wantDone bool   // Round reports the queue closed and drained
}

func TestPublisherRound(t *testing.T) {
	s := func(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }
	defLimit := func() *rate.Limiter { return notify.NewLimit(notify.DefaultEvery, notify.DefaultBurst) }
	tests := []struct {
		name      string
		max       int
		pace      *rate.Limiter
		limit     *rate.Limiter
		steps     []roundStep
		wantHosts [][]string
		wantLost  []int
	}{
		{
			name: "the first decision after quiet goes out in the round it wakes, in the one-decision form",
			max:  100, pace: notify.NewPace(10 * time.Second), limit: defLimit(),
			steps: []roundStep{
				{at: s(0), op: "push", host: "a", want: 1},
				{at: s(9.999), op: "round", want: 1},
				{at: s(20), op: "round", want: 1},
				{at: s(20), op: "close", want: 1, wantDone: true},
			},
			wantHosts: [][]string{{"a"}},
		},
		{
			name: "decisions within the interval after the first are grouped, a group at most every interval",
			max:  100, pace: notify.NewPace(10 * time.Second), limit: defLimit(),
			steps: []roundStep{
				{at: s(0), op: "push", host: "a", want: 1},
				{at: s(4), op: "push", host: "b", want: 1},
				{at: s(9), op: "push", host: "c", want: 1},
				{at: s(9.999), op: "round", want: 1},
				{at: s(10), op: "round", want: 2},
				{at: s(11), op: "push", host: "d", want: 2},
				{at: s(15), op: "round", want: 2},
				{at: s(19.999), op: "round", want: 2},
				{at: s(20), op: "round", want: 3},
				// Quiet for an interval since the last group: at once again.
				{at: s(30), op: "push", host: "e", want: 4},
				{at: s(31), op: "push", host: "f", want: 4},
				{at: s(40), op: "round", want: 5},
			},
			wantHosts: [][]string{{"a"}, {"b", "c"}, {"d"}, {"e"}, {"f"}},
		},
		{
			name: "pushed together after quiet: the first alone at once, the others grouped",
			max:  100, pace: notify.NewPace(10 * time.Second), limit: defLimit(),
			steps: []roundStep{
				{at: s(0), op: "push", host: "a,b,c", want: 1},
				{at: s(9), op: "round", want: 1},
				{at: s(10), op: "round", want: 2},
			},
			wantHosts: [][]string{{"a"}, {"b", "c"}},
		},
		{
			name: "no interval: each decision alone while the limit has tokens",
			max:  100, pace: notify.NewPace(0), limit: notify.NewLimit(time.Second, 3),
			steps: []roundStep{
				{at: s(0), op: "push", host: "a,b", want: 2},
				{at: s(0), op: "push", host: "c,d,e", want: 3},
				{at: s(1), op: "round", want: 4},
			},
			wantHosts: [][]string{{"a"}, {"b"}, {"c"}, {"d", "e"}},
		},
		{
			name: "a full queue goes out without waiting for the interval",
			max:  3, pace: notify.NewPace(time.Hour), limit: defLimit(),
			steps: []roundStep{
				{at: s(0), op: "push", host: "a", want: 1},
				{at: s(0), op: "push", host: "b", want: 1},
				{at: s(0), op: "push", host: "c", want: 1},
				{at: s(0), op: "push", host: "d", want: 2},
				// The early group took the pace token in advance.
				{at: s(0), op: "push", host: "e", want: 2},
				{at: s(3599), op: "round", want: 2},
				{at: s(2 * 3600), op: "round", want: 3},
			},
			wantHosts: [][]string{{"a"}, {"b", "c", "d"}, {"e"}},
		},
		{
			name: "paced by the limit; held decisions join the next message",
			max:  100, pace: notify.NewPace(0), limit: notify.NewLimit(time.Second, 2),
			steps: []roundStep{
				{at: s(0), op: "push", host: "a", want: 1},
				{at: s(0), op: "push", host: "b", want: 2},
				{at: s(0), op: "push", host: "c", want: 2},
				{at: s(0.5), op: "push", host: "d", want: 2},
				{at: s(0.9), op: "push", host: "e", want: 2},
				{at: s(1), op: "round", want: 3},
				{at: s(1.5), op: "push", host: "f", want: 3},
				{at: s(2), op: "round", want: 4},
			},
			wantHosts: [][]string{{"a"}, {"b"}, {"c", "d", "e"}, {"f"}},
		},
		{
			name: "close drains at once, without waiting for the interval",
			max:  100, pace: notify.NewPace(10 * time.Second), limit: defLimit(),
			steps: []roundStep{
				{at: s(0), op: "push", host: "a", want: 1},
				{at: s(1), op: "push", host: "b", want: 1},
				{at: s(2), op: "push", host: "c", want: 1},
				{at: s(3), op: "close", want: 2, wantDone: true},
			},
			wantHosts: [][]string{{"a"}, {"b", "c"}},
		},
		{
			name: "close drains paced by the limit, then is done",
			max:  100, pace: notify.NewPace(0), limit: notify.NewLimit(time.Second, 1),
			steps: []roundStep{
				{at: s(0), op: "push", host: "a", want: 1},
				{at: s(0), op: "push", host: "b", want: 1},
				{at: s(0), op: "push", host: "c", want: 1},
				{at: s(0), op: "close", want: 1},
				{at: s(0.5), op: "round", want: 1},
				{at: s(1), op: "round", want: 2, wantDone: true},
				{at: s(1), op: "round", want: 2, wantDone: true},
			},
			wantHosts: [][]string{{"a"}, {"b", "c"}},
		},
		{
			name: "too many pending while limited: the oldest are dropped, reported once with the batch",
			max:  2, pace: notify.NewPace(time.Hour), limit: notify.NewLimit(time.Hour, 1),
			steps: []roundStep{
				{at: s(0), op: "push", host: "a", want: 1},
				{at: s(0), op: "push", host: "b", want: 1},
				{at: s(1), op: "push", host: "c", want: 1},
				{at: s(1), op: "push", host: "d", want: 1},
				{at: s(1), op: "push", host: "e", want: 1},
				{at: s(3600), op: "round", want: 2},
			},
			wantHosts: [][]string{{"a"}, {"d", "e"}},
			wantLost:  []int{2},
		},
	}
	for _, tt := range tests {
		r := newPubRig(t, tt.max, tt.pace, tt.limit)
		for i, st := range tt.steps {
			r.clock.offset = st.at
			switch st.op {
			case "push":
				for _, h := range strings.Split(st.host, ",") {
					r.q.Push(withStatus(ban.Blocked, "block.flood", h))
				}
			case "close":
				r.q.Close()
			}
			done := r.p.Round(context.Background())
			if got := len(r.s.Messages()); got != st.want {
				t.Errorf("%s: step %d: %s at t0+%v: %d messages published, want %d", tt.name, i, st.op, st.at, got, st.want)
			}
			if done != st.wantDone {
				t.Errorf("%s: step %d: %s at t0+%v: Round() = %v, want %v", tt.name, i, st.op, st.at, done, st.wantDone)
			}
		}
		if got := hostLists(t, r.s.Messages()); fmt.Sprint(got) != fmt.Sprint(tt.wantHosts) {
			t.Errorf("%s: messages hold %v, want %v", tt.name, got, tt.wantHosts)
		}
		var gotLost []int
		for _, l := range r.lost {
			gotLost = append(gotLost, l.n)
			if !errors.Is(l.err, notify.ErrDropped) {
				t.Errorf("%s: OnError(%d, %v), want ErrDropped", tt.name, l.n, l.err)
			}
		}
		if fmt.Sprint(gotLost) != fmt.Sprint(tt.wantLost) {
			t.Errorf("%s: OnError reported %v decisions dropped, want %v", tt.name, gotLost, tt.wantLost)
		}
	}
}

// TestFirstDecisionFast: with the defaults (Notify_Interval 10s), a
// decision after a quiet period is published in the first round after its
// push, at the same instant on the clock; one that follows within the
// interval waits and is grouped with those after it.
func TestFirstDecisionFast(t *testing.T) {
	r := newPubRig(t, 0, nil, nil)
	ctx := context.Background()
	r.clock.offset = time.Hour // long quiet before
	r.q.Push(withStatus(ban.Blocked, "block.flood", "first"))
	r.p.Round(ctx)
	msgs := r.s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("after one round at the push's instant: %d messages, want the first decision published", len(msgs))
	}
	if hs, b := hostsIn(t, msgs[0].Body); b != nil || fmt.Sprint(hs) != "[first]" {
		t.Errorf("first message holds %v (batch form %v), want [first] in the one-decision form", hs, b != nil)
	}
	steps := []struct {
		at   time.Duration
		push string
		want int
	}{
		{at: 1 * time.Second, push: "second", want: 1},
		{at: 5 * time.Second, push: "third", want: 1},
		{at: notify.DefaultInterval - time.Millisecond, want: 1},
		{at: notify.DefaultInterval, want: 2},
	}
	for i, st := range steps {
		r.clock.offset = time.Hour + st.at
		if st.push != "" {
			r.q.Push(withStatus(ban.Blocked, "block.flood", st.push))
		}
		r.p.Round(ctx)
		if got := len(r.s.Messages()); got != st.want {
			t.Errorf("step %d: round at first+%v: %d messages, want %d", i, st.at, got, st.want)
		}
	}
	if got := hostLists(t, r.s.Messages()); fmt.Sprint(got) != "[[first] [second third]]" {
		t.Errorf("messages hold %v, want [[first] [second third]]", got)
	}
}

// TestRunFirstDecisionWithoutTick runs the loop with no tick at all and the
// clock standing still: the push alone wakes Run, which publishes the
// first decision; closing the queue then drains the second and Run
// returns. (A publisher that waited for a tick would never return.)
func TestRunFirstDecisionWithoutTick(t *testing.T) {
	fake := &notifytest.Fake{}
	n := newNotifier(t, notify.Config{TopicARN: topic}, fake)
	clock := &fakeClock{}
	q := notify.NewQueue(0)
	var reports []lost
	p := notify.NewPublisher(n, q, notify.PublisherConfig{Now: clock.Now,
		OnError: func(n int, err error) { reports = append(reports, lost{n, err}) }})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(context.Background(), nil)
	}()
	q.Push(withStatus(ban.Blocked, "block.flood", "a"))
	q.Push(withStatus(ban.Blocked, "block.flood", "b"))
	q.Close()
	<-done
	ins := fake.Inputs()
	var got [][]string
	for _, in := range ins {
		hs, _ := hostsIn(t, *in.Message)
		got = append(got, hs)
	}
	// The push of b may come before Run woke for a: then both are the
	// first group. Either way every decision is published once, in order,
	// at the one instant the clock shows.
	if s := fmt.Sprint(got); s != "[[a] [b]]" && s != "[[a b]]" {
		t.Errorf("Run published %v, want [[a] [b]] or [[a b]]", s)
	}
	if len(reports) != 0 {
		t.Errorf("OnError reports %v, want none", reports)
	}
}

// TestRunBurst sends 100 decisions within one interval, as a real attack
// would: the first goes out at once, the rest together when the interval
// has passed, every decision exactly once.
func TestRunBurst(t *testing.T) {
	r := newPubRig(t, 0, nil, nil)
	hs := hosts(100)
	for i, h := range hs {
		r.clock.offset = time.Duration(i) * 50 * time.Millisecond // 100 decisions in 5s
		r.q.Push(withStatus([]ban.Status{ban.Blocked, ban.Failed}[i%2], "block.flood", h))
		r.p.Round(context.Background())
	}
	r.clock.offset = notify.DefaultInterval
	r.p.Round(context.Background())
	r.q.Close()
	if !r.p.Round(context.Background()) {
		t.Error("Round after Close = false, want true: all published")
	}
	seen := make(map[string]int)
	for _, m := range r.s.Messages() {
		got, _ := hostsIn(t, m.Body)
		for _, h := range got {
			seen[h]++
		}
	}
	if c := r.s.PublishCount(); c != 2 {
		t.Errorf("100 decisions within one interval took %d publishes, want 2: the first at once, then the rest", c)
	}
	for _, h := range hs {
		if seen[h] != 1 {
			t.Errorf("decision %s published %d times, want exactly once", h, seen[h])
		}
	}
	if len(seen) != len(hs) {
		t.Errorf("%d distinct decisions published, want %d", len(seen), len(hs))
	}
}

func TestRunReportsFailures(t *testing.T) {
	r := newPubRig(t, 10, notify.NewPace(0), notify.NewLimit(0, 1))
	r.s.Fail("AuthorizationError", 403, 1)
	r.q.Push(withStatus(ban.Blocked, "block.flood", "a"))
	r.p.Round(context.Background())
	r.q.Push(withStatus(ban.Blocked, "block.flood", "b"))
	r.q.Close()
	if !r.p.Round(context.Background()) {
		t.Error("Round after Close = false, want true")
	}
	want := "notify: publish blocked a to " + topic + ": AuthorizationError: notifytest: injected AuthorizationError"
	if len(r.lost) != 1 || r.lost[0].n != 1 || r.lost[0].err.Error() != want {
		t.Errorf("OnError reports %v, want one for 1 decision: %s", r.lost, want)
	}
	if got := hostLists(t, r.s.Messages()); fmt.Sprint(got) != "[[b]]" {
		t.Errorf("messages hold %v, want [[b]]", got)
	}
}

// TestRunCancelReportsPending: Run on a cancelled context publishes nothing
// more and reports what is pending, whichever ready channel it sees first.
func TestRunCancelReportsPending(t *testing.T) {
	r := newPubRig(t, 10, notify.NewPace(time.Hour), nil)
	r.q.Push(withStatus(ban.Blocked, "block.flood", "a"))
	r.p.Round(context.Background()) // a goes out at once
	for _, h := range []string{"b", "c", "d"} {
		r.q.Push(withStatus(ban.Blocked, "block.flood", h))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.p.Run(ctx, nil)
	if len(r.lost) != 1 || r.lost[0].n != 3 || !errors.Is(r.lost[0].err, context.Canceled) ||
		!strings.Contains(r.lost[0].err.Error(), "3 decisions not published") {
		t.Errorf("OnError reports %v, want one for 3 decisions wrapping context.Canceled", r.lost)
	}
	if c := r.s.PublishCount(); c != 1 {
		t.Errorf("PublishCount = %d, want 1 (the first decision, before the cancel)", c)
	}
	if n := r.q.Len(); n != 0 {
		t.Errorf("%d decisions left in the queue, want 0", n)
	}
}

func TestRunWithoutTopic(t *testing.T) {
	fake := &notifytest.Fake{}
	q := notify.NewQueue(0)
	for range 3 {
		q.Push(blocked())
	}
	q.Close()
	notify.NewPublisher(newNotifier(t, notify.Config{}, fake), q, notify.PublisherConfig{}).Run(context.Background(), nil)
	if q.Len() != 0 || len(fake.Inputs()) != 0 {
		t.Errorf("Run without topic left %d decisions and made %d calls, want 0 and 0", q.Len(), len(fake.Inputs()))
	}
}

// BenchmarkFirstDecisionLatency measures, on the wall clock, the time from
// Push to the Publish call for a decision after quiet, through Run (the
// Queue's signal, one Round, the message's encoding).
func BenchmarkFirstDecisionLatency(b *testing.B) {
	published := make(chan struct{})
	api := apiFunc(func(context.Context, *sns.PublishInput) (*sns.PublishOutput, error) {
		published <- struct{}{}
		return &sns.PublishOutput{}, nil
	})
	n, err := notify.New(notify.Config{TopicARN: topic}, api, nil)
	if err != nil {
		b.Fatal(err)
	}
	q := notify.NewQueue(0)
	p := notify.NewPublisher(n, q, notify.PublisherConfig{Pace: notify.NewPace(0), Limit: notify.NewLimit(0, 1)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(context.Background(), nil)
	}()
	d := blocked()
	b.ReportAllocs()
	for b.Loop() {
		q.Push(d)
		<-published
	}
	q.Close()
	<-done
}

// TestRunLosesNoDecision pushes from one goroutine while Run publishes on
// another, then closes the queue: every decision is published or reported
// dropped (when the pusher runs 10000 ahead), none lost in a push that
// lands while Run finds the queue empty.
func TestRunLosesNoDecision(t *testing.T) {
	const n = 20000
	var published atomic.Int64
	api := apiFunc(func(_ context.Context, in *sns.PublishInput) (*sns.PublishOutput, error) {
		hs, _ := hostsIn(t, *in.Message)
		published.Add(int64(len(hs)))
		return &sns.PublishOutput{}, nil
	})
	var dropped int64 // written by Run's goroutine, read after done
	q := notify.NewQueue(0)
	p := notify.NewPublisher(newNotifier(t, notify.Config{TopicARN: topic}, api), q,
		notify.PublisherConfig{Pace: notify.NewPace(0), Limit: notify.NewLimit(0, 1),
			OnError: func(n int, err error) {
				if !errors.Is(err, notify.ErrDropped) {
					t.Errorf("OnError(%d, %v), want only drops", n, err)
				}
				dropped += int64(n)
			}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(context.Background(), nil)
	}()
	d := blocked()
	for i := range n {
		q.Push(d)
		if i%3 == 0 {
			runtime.Gosched() // let Run catch up and find the queue empty
		}
	}
	q.Close()
	<-done
	if got := published.Load(); got+dropped != n {
		t.Errorf("%d of %d decisions published and %d reported dropped, want every one either", got, n, dropped)
	}
}

// TestRunWakesForEveryPush pushes one decision at a time and waits for it
// to be published. A tick accepted by Run means no round is under way and
// the decision is not yet published, so the round after it must publish
// it: a second tick accepted first means the decision was lost. Which of
// the two ready channels the test's select takes does not matter.
func TestRunWakesForEveryPush(t *testing.T) {
	const n = 20000
	published := make(chan struct{})
	api := apiFunc(func(context.Context, *sns.PublishInput) (*sns.PublishOutput, error) {
		published <- struct{}{}
		return &sns.PublishOutput{}, nil
	})
	q := notify.NewQueue(0)
	p := notify.NewPublisher(newNotifier(t, notify.Config{TopicARN: topic}, api), q,
		notify.PublisherConfig{Pace: notify.NewPace(0), Limit: notify.NewLimit(0, 1)})
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(context.Background(), tick)
	}()
	d := blocked()
	for i := range n {
		q.Push(d)
		for ticks := 0; ; {
			select {
			case <-published:
			case tick <- t0:
				if ticks++; ticks == 2 {
					t.Fatalf("decision %d lost: a whole round after its push published nothing", i)
				}
				continue
			}
			break
		}
	}
	q.Close()
	<-done
}
