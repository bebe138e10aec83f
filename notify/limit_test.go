package notify_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dosguard/dosguard/notify"
	"golang.org/x/time/rate"
)

// allowStep is one AllowN(t0+at, 1) on the timeline.
type allowStep struct {
	at   time.Duration
	want bool
}

func runAllowSteps(t *testing.T, name string, l *rate.Limiter, steps []allowStep) {
	t.Helper()
	for i, st := range steps {
		if got := l.AllowN(t0.Add(st.at), 1); got != st.want {
			t.Errorf("%s: step %d: AllowN(t0+%v, 1) = %v, want %v", name, i, st.at, got, st.want)
		}
	}
}

func TestLimit(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		l     *rate.Limiter
		steps []allowStep
	}{
		{
			name: "default: burst 5, then one a second", l: notify.NewLimit(notify.DefaultEvery, notify.DefaultBurst),
			steps: []allowStep{
				{0, true}, {0, true}, {0, true}, {0, true}, {0, true},
				{0, false},
				{999 * ms, false},
				{1000 * ms, true},
				{1000 * ms, false},
				{1500 * ms, false},
				{2000 * ms, true},
				// Quiet for 10s: the bucket refills to 5, not more.
				{12 * time.Second, true}, {12 * time.Second, true}, {12 * time.Second, true},
				{12 * time.Second, true}, {12 * time.Second, true},
				{12 * time.Second, false},
			},
		},
		{
			name: "burst below 1 means 1", l: notify.NewLimit(100*ms, 0),
			steps: []allowStep{{0, true}, {0, false}, {50 * ms, false}, {100 * ms, true}},
		},
		{
			name: "no interval allows everything", l: notify.NewLimit(0, 1),
			steps: []allowStep{{0, true}, {0, true}, {0, true}},
		},
	}
	for _, tt := range tests {
		runAllowSteps(t, tt.name, tt.l, tt.steps)
	}
}

// TestPace: the batch pace holds one token, the next an interval after the
// last one taken; an interval of zero never holds back.
func TestPace(t *testing.T) {
	tests := []struct {
		interval time.Duration
		steps    []allowStep
	}{
		{10 * time.Second, []allowStep{{0, true}, {0, false}, {9999 * time.Millisecond, false}, {10 * time.Second, true},
			{time.Hour, true}, {time.Hour, false}}},
		{0, []allowStep{{0, true}, {0, true}, {0, true}}},
		{-time.Second, []allowStep{{0, true}, {0, true}}},
	}
	for _, tt := range tests {
		runAllowSteps(t, fmt.Sprintf("NewPace(%v)", tt.interval), notify.NewPace(tt.interval), tt.steps)
	}
}

// TestLimitRate checks the long-run rate: over a simulated hour of
// attempts every 10 ms, the default limit lets through one a second plus
// the initial burst, and never more than the burst (5, well under SNS's 10)
// in any one second.
func TestLimitRate(t *testing.T) {
	l := notify.NewLimit(notify.DefaultEvery, notify.DefaultBurst)
	var allowed []time.Duration
	for at := time.Duration(0); at < time.Hour; at += 10 * time.Millisecond {
		if l.AllowN(t0.Add(at), 1) {
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

func BenchmarkQueuePushTake(b *testing.B) {
	q := notify.NewQueue(notify.DefaultMaxPending)
	d := blocked()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q.Push(d)
		if i++; i == 100 {
			q.Take()
			i = 0
		}
	}
}

func hosts(n int) []string {
	hs := make([]string, n)
	for i := range hs {
		hs[i] = fmt.Sprintf("2001:db8::%x", i+1)
	}
	return hs
}
