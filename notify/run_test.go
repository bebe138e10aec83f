package notify_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/dosguard/dosguard/ban"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
)

// deadline bounds every wait on the loop; tests never sleep.
const deadline = 5 * time.Second

// fakeClock is the loop's injected now: t0 plus an offset the test sets.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) Now() time.Time           { return t0.Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) Set(offset time.Duration) { c.offset.Store(int64(offset)) }

// lost is one OnError report.
type lost struct {
	n   int
	err error
}

// loop runs Notifier.Run against a notifytest.Server on its own goroutine.
// in and tick are unbuffered, so a send returns once Run has taken it, and
// a send on tick returns only when Run has finished with everything before.
type loop struct {
	t      *testing.T
	s      *notifytest.Server
	clock  fakeClock
	in     chan notify.Decision
	tick   chan time.Time
	cancel context.CancelFunc
	done   chan struct{}
	lost   []lost // written by Run's goroutine; read after done
}

func startLoop(t *testing.T, n *notify.Notifier, s *notifytest.Server, b *notify.Batcher, l *notify.Limiter) *loop {
	t.Helper()
	lp := &loop{t: t, s: s, in: make(chan notify.Decision), tick: make(chan time.Time), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	lp.cancel = cancel
	go func() {
		defer close(lp.done)
		n.Run(ctx, lp.in, lp.tick, notify.RunOptions{
			Now: lp.clock.Now, Batcher: b, Limiter: l,
			OnError: func(n int, err error) { lp.lost = append(lp.lost, lost{n, err}) },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-lp.done:
		case <-time.After(deadline):
			t.Errorf("Run did not return within %v of cancel", deadline)
		}
	})
	return lp
}

// send hands d to Run.
func (lp *loop) send(d notify.Decision) {
	lp.t.Helper()
	select {
	case lp.in <- d:
	case <-lp.done:
		lp.t.Fatalf("Run returned before taking decision %s", d.Host)
	case <-time.After(deadline):
		lp.t.Fatalf("Run did not take decision %s within %v", d.Host, deadline)
	}
}

// settle returns once Run has handled everything sent before (or has
// returned); it reports whether Run is still running.
func (lp *loop) settle() bool {
	lp.t.Helper()
	select {
	case lp.tick <- lp.clock.Now():
		return true
	case <-lp.done:
		return false
	case <-time.After(deadline):
		lp.t.Fatalf("Run took no tick within %v", deadline)
		return false
	}
}

// wait returns once Run has returned.
func (lp *loop) wait() {
	lp.t.Helper()
	select {
	case <-lp.done:
	case <-time.After(deadline):
		lp.t.Fatalf("Run did not return within %v", deadline)
	}
}

// hostLists returns the hosts of each stored message, and whether each one
// with a single host used the one-decision form.
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

// runStep is one step on the timeline: set the clock to at, then send a
// decision for host, or tick, or close in; then let Run settle and count
// the stored messages.
type runStep struct {
	at       time.Duration
	op       string // "send", "tick" or "close"
	host     string
	want     int  // messages stored so far
	wantDone bool // Run has returned
}

func TestRun(t *testing.T) {
	s := func(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }
	tests := []struct {
		name      string
		b         *notify.Batcher
		l         *notify.Limiter
		steps     []runStep
		wantHosts [][]string
		wantLost  []int
	}{
		{
			name: "a single decision waits the interval, in the one-decision form",
			b:    notify.NewBatcher(10*time.Second, 100), l: notify.NewLimiter(notify.DefaultEvery, notify.DefaultBurst),
			steps: []runStep{
				{at: s(0), op: "send", host: "a", want: 0},
				{at: s(9.999), op: "tick", want: 0},
				{at: s(10), op: "tick", want: 1},
				{at: s(20), op: "tick", want: 1},
				{at: s(20), op: "close", want: 1, wantDone: true},
			},
			wantHosts: [][]string{{"a"}},
		},
		{
			name: "decisions within the interval go out together",
			b:    notify.NewBatcher(10*time.Second, 100), l: notify.NewLimiter(notify.DefaultEvery, notify.DefaultBurst),
			steps: []runStep{
				{at: s(0), op: "send", host: "a", want: 0},
				{at: s(4), op: "send", host: "b", want: 0},
				{at: s(9), op: "send", host: "c", want: 0},
				{at: s(10), op: "tick", want: 1},
				{at: s(11), op: "send", host: "d", want: 1},
				{at: s(15), op: "tick", want: 1},
				{at: s(21), op: "tick", want: 2},
			},
			wantHosts: [][]string{{"a", "b", "c"}, {"d"}},
		},
		{
			name: "max pending goes out without waiting for a tick",
			b:    notify.NewBatcher(time.Hour, 3), l: notify.NewLimiter(notify.DefaultEvery, notify.DefaultBurst),
			steps: []runStep{
				{at: s(0), op: "send", host: "a", want: 0},
				{at: s(0), op: "send", host: "b", want: 0},
				{at: s(0), op: "send", host: "c", want: 1},
			},
			wantHosts: [][]string{{"a", "b", "c"}},
		},
		{
			name: "paced by the limiter; held decisions join the next message",
			b:    notify.NewBatcher(0, 100), l: notify.NewLimiter(time.Second, 2),
			steps: []runStep{
				{at: s(0), op: "send", host: "a", want: 1},
				{at: s(0), op: "send", host: "b", want: 2},
				{at: s(0), op: "send", host: "c", want: 2},
				{at: s(0.5), op: "send", host: "d", want: 2},
				{at: s(0.9), op: "send", host: "e", want: 2},
				{at: s(1), op: "tick", want: 3},
				{at: s(1.5), op: "send", host: "f", want: 3},
				{at: s(2), op: "tick", want: 4},
			},
			wantHosts: [][]string{{"a"}, {"b"}, {"c", "d", "e"}, {"f"}},
		},
		{
			name: "close drains at once, without waiting for the interval",
			b:    notify.NewBatcher(10*time.Second, 100), l: notify.NewLimiter(notify.DefaultEvery, notify.DefaultBurst),
			steps: []runStep{
				{at: s(0), op: "send", host: "a", want: 0},
				{at: s(1), op: "send", host: "b", want: 0},
				{at: s(2), op: "send", host: "c", want: 0},
				{at: s(3), op: "close", want: 1, wantDone: true},
			},
			wantHosts: [][]string{{"a", "b", "c"}},
		},
		{
			name: "close drains paced by the limiter, then returns",
			b:    notify.NewBatcher(0, 100), l: notify.NewLimiter(time.Second, 1),
			steps: []runStep{
				{at: s(0), op: "send", host: "a", want: 1},
				{at: s(0), op: "send", host: "b", want: 1},
				{at: s(0), op: "send", host: "c", want: 1},
				{at: s(0), op: "close", want: 1},
				{at: s(0.5), op: "tick", want: 1},
				{at: s(1), op: "tick", want: 2, wantDone: true},
			},
			wantHosts: [][]string{{"a"}, {"b", "c"}},
		},
		{
			name: "too many pending while limited: the oldest is dropped and reported",
			b:    notify.NewBatcher(time.Hour, 2), l: notify.NewLimiter(time.Hour, 1),
			steps: []runStep{
				{at: s(0), op: "send", host: "a", want: 0},
				{at: s(0), op: "send", host: "b", want: 1},
				{at: s(1), op: "send", host: "c", want: 1},
				{at: s(1), op: "send", host: "d", want: 1},
				{at: s(1), op: "send", host: "e", want: 1},
				{at: s(3600), op: "tick", want: 2},
			},
			wantHosts: [][]string{{"a", "b"}, {"d", "e"}},
			wantLost:  []int{1},
		},
	}
	for _, tt := range tests {
		srv := newServer(t)
		lp := startLoop(t, newNotifier(t, notify.Config{TopicARN: topic}, srv.Client(t)), srv, tt.b, tt.l)
		running := true
		for i, st := range tt.steps {
			lp.clock.Set(st.at)
			switch st.op {
			case "send":
				lp.send(withStatus(ban.Blocked, "block.flood", st.host))
			case "tick":
				running = lp.settle()
			case "close":
				close(lp.in)
			}
			running = lp.settle() && running && lp.settle()
			if got := len(srv.Messages()); got != st.want {
				t.Errorf("%s: step %d: %s at t0+%v: %d messages published, want %d", tt.name, i, st.op, st.at, got, st.want)
			}
			if running == st.wantDone {
				t.Errorf("%s: step %d: %s at t0+%v: Run returned = %v, want %v", tt.name, i, st.op, st.at, !running, st.wantDone)
			}
		}
		if running {
			lp.cancel()
		}
		lp.wait()
		if got := hostLists(t, srv.Messages()); fmt.Sprint(got) != fmt.Sprint(tt.wantHosts) {
			t.Errorf("%s: messages hold %v, want %v", tt.name, got, tt.wantHosts)
		}
		var gotLost []int
		for _, l := range lp.lost {
			if errors.Is(l.err, context.Canceled) {
				continue
			}
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

// TestRunBurst sends 100 decisions within one interval, as a real attack
// would, and waits for them on the server's Published channel: they arrive
// in a handful of messages, every decision exactly once.
func TestRunBurst(t *testing.T) {
	srv := newServer(t)
	n := newNotifier(t, notify.Config{TopicARN: topic}, srv.Client(t))
	lp := startLoop(t, n, srv, notify.NewBatcher(notify.DefaultInterval, notify.DefaultMaxPending), notify.NewLimiter(notify.DefaultEvery, notify.DefaultBurst))
	hs := hosts(100)
	for i, h := range hs {
		lp.clock.Set(time.Duration(i) * 50 * time.Millisecond) // 100 decisions in 5s
		lp.send(withStatus([]ban.Status{ban.Blocked, ban.Failed}[i%2], "block.flood", h))
	}
	lp.settle()
	// Run reads the clock when it takes a decision, which may be after the
	// test moved it on: go well past the interval of every decision.
	lp.clock.Set(2 * notify.DefaultInterval)
	lp.settle()

	seen := make(map[string]int)
	timeout := time.After(deadline)
	for total := 0; total < len(hs); {
		select {
		case m := <-srv.Published():
			got, _ := hostsIn(t, m.Body)
			for _, h := range got {
				seen[h]++
			}
			total += len(got)
		case <-timeout:
			t.Fatalf("only %d of %d decisions published within %v", len(seen), len(hs), deadline)
		}
	}
	close(lp.in)
	lp.wait()
	if c := srv.PublishCount(); c > 3 {
		t.Errorf("100 decisions within one interval took %d publishes, want at most 3", c)
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
	srv := newServer(t)
	n := newNotifier(t, notify.Config{TopicARN: topic}, srv.Client(t))
	lp := startLoop(t, n, srv, notify.NewBatcher(0, 10), notify.NewLimiter(0, 1))
	srv.Fail("AuthorizationError", 403, 1)
	lp.send(withStatus(ban.Blocked, "block.flood", "a"))
	lp.send(withStatus(ban.Blocked, "block.flood", "b"))
	close(lp.in)
	lp.wait()
	want := "notify: publish blocked a to " + topic + ": AuthorizationError: notifytest: injected AuthorizationError"
	if len(lp.lost) != 1 || lp.lost[0].n != 1 || lp.lost[0].err.Error() != want {
		t.Errorf("OnError reports %v, want one for 1 decision: %s", lp.lost, want)
	}
	if got := hostLists(t, srv.Messages()); fmt.Sprint(got) != "[[b]]" {
		t.Errorf("messages hold %v, want [[b]]", got)
	}
}

func TestRunCancelReportsPending(t *testing.T) {
	srv := newServer(t)
	n := newNotifier(t, notify.Config{TopicARN: topic}, srv.Client(t))
	lp := startLoop(t, n, srv, notify.NewBatcher(time.Hour, 10), nil)
	for _, h := range []string{"a", "b", "c"} {
		lp.send(withStatus(ban.Blocked, "block.flood", h))
	}
	lp.cancel()
	lp.wait()
	if len(lp.lost) != 1 || lp.lost[0].n != 3 || !errors.Is(lp.lost[0].err, context.Canceled) ||
		!strings.Contains(lp.lost[0].err.Error(), "3 decisions not published") {
		t.Errorf("OnError reports %v, want one for 3 decisions wrapping context.Canceled", lp.lost)
	}
	if c := srv.PublishCount(); c != 0 {
		t.Errorf("PublishCount = %d, want 0", c)
	}
}

func TestRunWithoutTopic(t *testing.T) {
	fake := &notifytest.Fake{}
	n := newNotifier(t, notify.Config{}, fake)
	in := make(chan notify.Decision, 3)
	for range 3 {
		in <- blocked()
	}
	close(in)
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Run(context.Background(), in, nil, notify.RunOptions{})
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatalf("Run without topic did not return within %v of close", deadline)
	}
	if len(in) != 0 || len(fake.Inputs()) != 0 {
		t.Errorf("Run without topic left %d decisions and made %d calls, want 0 and 0", len(in), len(fake.Inputs()))
	}
}
