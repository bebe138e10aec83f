package notify_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dosguard/dosguard/notify"
)

// batcherStep is one step on the timeline: optionally Add a decision for
// host at at, then check Due(at), then optionally Take, then Pending and
// Dropped.
type batcherStep struct {
	at          time.Time
	add         string   // host to Add; "" adds nothing
	due         bool     // want Due(at)
	take        []string // when non-nil, Take and want these hosts
	pending     int
	wantDropped uint64
}

func runBatcherSteps(t *testing.T, name string, b *notify.Batcher, steps []batcherStep) {
	t.Helper()
	for i, st := range steps {
		if st.add != "" {
			d := blocked()
			d.Host = st.add
			b.Add(d, st.at)
		}
		if got := b.Due(st.at); got != st.due {
			t.Errorf("%s: step %d: Due(%v) = %v, want %v", name, i, st.at.Sub(t0), got, st.due)
		}
		if st.take != nil {
			var hosts []string
			for _, d := range b.Take() {
				hosts = append(hosts, d.Host)
			}
			if !slices.Equal(hosts, st.take) && !(len(hosts) == 0 && len(st.take) == 0) {
				t.Errorf("%s: step %d: Take() = %v, want %v", name, i, hosts, st.take)
			}
		}
		if got := b.Pending(); got != st.pending {
			t.Errorf("%s: step %d: Pending() = %d, want %d", name, i, got, st.pending)
		}
		if got := b.Dropped(); got != st.wantDropped {
			t.Errorf("%s: step %d: Dropped() = %d, want %d", name, i, got, st.wantDropped)
		}
	}
}

func TestBatcher(t *testing.T) {
	s := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Second))) }
	tests := []struct {
		name     string
		interval time.Duration
		max      int
		steps    []batcherStep
	}{
		{
			name: "held for the interval, then all together", interval: 10 * time.Second, max: 100,
			steps: []batcherStep{
				{at: s(0), due: false, pending: 0},
				{at: s(0), add: "a", due: false, pending: 1},
				{at: s(3), add: "b", due: false, pending: 2},
				{at: s(9.999), due: false, pending: 2},
				{at: s(10), due: true, pending: 2}, // a has waited 10s
				{at: s(10), add: "c", due: true, take: []string{"a", "b", "c"}, pending: 0},
				{at: s(10), due: false, take: []string{}, pending: 0},
				// The clock restarts with the first decision after Take.
				{at: s(15), add: "d", due: false, pending: 1},
				{at: s(24), due: false, pending: 1},
				{at: s(25), due: true, take: []string{"d"}, pending: 0},
			},
		},
		{
			name: "max pending is due at once, then drops the oldest", interval: time.Hour, max: 3,
			steps: []batcherStep{
				{at: s(0), add: "a", due: false, pending: 1},
				{at: s(1), add: "b", due: false, pending: 2},
				{at: s(2), add: "c", due: true, pending: 3},
				{at: s(3), add: "d", due: true, pending: 3, wantDropped: 1},
				{at: s(4), add: "e", due: true, take: []string{"c", "d", "e"}, pending: 0, wantDropped: 2},
				{at: s(5), add: "f", due: false, pending: 1, wantDropped: 2},
			},
		},
		{
			name: "interval zero: due as soon as anything is pending", interval: 0, max: 10,
			steps: []batcherStep{
				{at: s(0), due: false, pending: 0},
				{at: s(0), add: "a", due: true, pending: 1},
				{at: s(0), add: "b", due: true, take: []string{"a", "b"}, pending: 0},
			},
		},
		{
			name: "clock going backwards is not due", interval: 10 * time.Second, max: 10,
			steps: []batcherStep{
				{at: s(20), add: "a", due: false, pending: 1},
				{at: s(5), due: false, pending: 1},
				{at: s(30), due: true, take: []string{"a"}, pending: 0},
			},
		},
	}
	for _, tt := range tests {
		runBatcherSteps(t, tt.name, notify.NewBatcher(tt.interval, tt.max), tt.steps)
	}
}

func TestBatcherDefaults(t *testing.T) {
	b := notify.NewBatcher(-time.Second, 0)
	for i := range notify.DefaultMaxPending + 5 {
		d := blocked()
		d.Requests = i
		b.Add(d, t0)
	}
	if got, want := b.Pending(), notify.DefaultMaxPending; got != want {
		t.Errorf("Pending() = %d, want %d (the default maximum)", got, want)
	}
	if got := b.Dropped(); got != 5 {
		t.Errorf("Dropped() = %d, want 5", got)
	}
	ds := b.Take()
	if ds[0].Requests != 5 || ds[len(ds)-1].Requests != notify.DefaultMaxPending+4 {
		t.Errorf("Take() kept requests %d..%d, want the newest 5..%d", ds[0].Requests, ds[len(ds)-1].Requests, notify.DefaultMaxPending+4)
	}
	b.Add(blocked(), t0)
	if !b.Due(t0) {
		t.Errorf("Due(t0) = false with a negative interval, want true (treated as zero)")
	}
}

// limiterStep is one call on the timeline: AllowAt when reserve is false,
// else ReserveAt.
type limiterStep struct {
	at       time.Duration // after t0
	reserve  bool
	want     bool          // AllowAt's answer
	wantWait time.Duration // ReserveAt's answer
}

func TestLimiter(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		l     *notify.Limiter
		steps []limiterStep
	}{
		{
			name: "default: burst 5, then one a second", l: notify.NewLimiter(notify.DefaultEvery, notify.DefaultBurst),
			steps: []limiterStep{
				{at: 0, want: true}, {at: 0, want: true}, {at: 0, want: true}, {at: 0, want: true}, {at: 0, want: true},
				{at: 0, want: false},
				{at: 999 * ms, want: false},
				{at: 1000 * ms, want: true},
				{at: 1000 * ms, want: false},
				{at: 1500 * ms, want: false},
				{at: 2000 * ms, want: true},
				// Quiet for 10s: the bucket refills to 5, not more.
				{at: 12 * time.Second, want: true}, {at: 12 * time.Second, want: true}, {at: 12 * time.Second, want: true},
				{at: 12 * time.Second, want: true}, {at: 12 * time.Second, want: true},
				{at: 12 * time.Second, want: false},
			},
		},
		{
			name: "reserve goes into debt", l: notify.NewLimiter(time.Second, 2),
			steps: []limiterStep{
				{at: 0, reserve: true, wantWait: 0},
				{at: 0, reserve: true, wantWait: 0},
				{at: 0, reserve: true, wantWait: time.Second},
				{at: 0, reserve: true, wantWait: 2 * time.Second},
				{at: 0, want: false},
				{at: 2500 * ms, want: false}, // the reserved tokens last until 3s
				{at: 3000 * ms, want: true},
				{at: 3000 * ms, reserve: true, wantWait: time.Second},
			},
		},
		{
			name: "burst below 1 means 1", l: notify.NewLimiter(100*ms, 0),
			steps: []limiterStep{
				{at: 0, want: true}, {at: 0, want: false}, {at: 50 * ms, want: false}, {at: 100 * ms, want: true},
			},
		},
		{
			name: "zero value allows everything", l: &notify.Limiter{},
			steps: []limiterStep{
				{at: 0, want: true}, {at: 0, want: true}, {at: 0, reserve: true, wantWait: 0}, {at: 0, want: true},
			},
		},
		{
			name: "no interval allows everything", l: notify.NewLimiter(0, 1),
			steps: []limiterStep{{at: 0, want: true}, {at: 0, want: true}, {at: 0, reserve: true}},
		},
		{
			name: "clock going backwards takes from the bucket as at the latest time", l: notify.NewLimiter(time.Second, 1),
			steps: []limiterStep{
				{at: 10 * time.Second, want: true}, {at: 5 * time.Second, want: false}, {at: 11 * time.Second, want: true},
			},
		},
	}
	for _, tt := range tests {
		for i, st := range tt.steps {
			now := t0.Add(st.at)
			if st.reserve {
				if got := tt.l.ReserveAt(now); got != st.wantWait {
					t.Errorf("%s: step %d: ReserveAt(t0+%v) = %v, want %v", tt.name, i, st.at, got, st.wantWait)
				}
				continue
			}
			if got := tt.l.AllowAt(now); got != st.want {
				t.Errorf("%s: step %d: AllowAt(t0+%v) = %v, want %v", tt.name, i, st.at, got, st.want)
			}
		}
	}
}

// TestLimiterRate checks the long-run rate: over a simulated hour of
// attempts every 10 ms, the default limiter lets through one a second plus
// the initial burst, and never more than the burst (5, well under SNS's 10)
// in any one second.
func TestLimiterRate(t *testing.T) {
	l := notify.NewLimiter(notify.DefaultEvery, notify.DefaultBurst)
	var allowed []time.Duration
	for at := time.Duration(0); at < time.Hour; at += 10 * time.Millisecond {
		if l.AllowAt(t0.Add(at)) {
			allowed = append(allowed, at)
		}
	}
	if got, want := len(allowed), 3600+notify.DefaultBurst-1; got != want {
		t.Errorf("%d messages allowed in an hour, want %d", got, want)
	}
	for i := range allowed {
		j := i
		for j < len(allowed) && allowed[j]-allowed[i] < time.Second {
			j++
		}
		if j-i > notify.DefaultBurst {
			t.Fatalf("%d messages allowed within a second from %v, want at most %d", j-i, allowed[i], notify.DefaultBurst)
		}
	}
}

func BenchmarkBatcherAdd(b *testing.B) {
	bt := notify.NewBatcher(notify.DefaultInterval, notify.DefaultMaxPending)
	d := blocked()
	b.ReportAllocs()
	for b.Loop() {
		bt.Add(d, t0)
		if bt.Due(t0) {
			bt.Take()
		}
	}
}

func BenchmarkLimiterAllowAt(b *testing.B) {
	l := notify.NewLimiter(time.Nanosecond, 5)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Nanosecond)
		l.AllowAt(now)
	}
}

func hosts(n int) []string {
	hs := make([]string, n)
	for i := range hs {
		hs[i] = fmt.Sprintf("2001:db8::%x", i+1)
	}
	return hs
}
