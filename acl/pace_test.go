package acl

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
)

var p0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// TestPacer walks the mutating-call bucket (5/s, burst 3) on a timeline.
func TestPacer(t *testing.T) {
	ms := time.Millisecond
	steps := []struct {
		t    time.Duration
		n    int
		want time.Duration
	}{
		{0, 1, 0},                // 3 -> 2
		{0, 2, 0},                // 2 -> 0
		{0, 1, 200 * ms},         // -1: one token at 5/s
		{0, 1, 400 * ms},         // -2
		{200 * ms, 1, 400 * ms},  // refill 1: -1, take 1: -2
		{1400 * ms, 1, 0},        // refill 6 capped at burst 3, take 1: 2
		{1400 * ms, 5, 600 * ms}, // 2-5 = -3
		{1300 * ms, 0, 0},        // clock going back: nothing refilled, nothing taken
		{2000 * ms, 1, 200 * ms}, // refill 0.6s*5 = 3: 0, take 1: -1
	}
	p := newPacer(5, 3)
	for i, s := range steps {
		if got := p.reserve(p0.Add(s.t), s.n); got != s.want {
			t.Errorf("step %d: reserve(t0+%v, %d) = %v, want %v", i, s.t, s.n, got, s.want)
		}
	}
	if got := (&pacer{}).reserve(p0, 100); got != 0 {
		t.Errorf("unpaced reserve = %v, want 0", got)
	}
}

// TestMinuteLimit walks Max_Blocks_Per_Minute = 2.
func TestMinuteLimit(t *testing.T) {
	l := minuteLimit{max: 2}
	steps := []struct {
		t    time.Duration
		want bool
	}{
		{0, true}, {30 * time.Second, true}, {59 * time.Second, false},
		{60 * time.Second, true}, {61 * time.Second, false}, {90 * time.Second, true},
	}
	for i, s := range steps {
		if got := l.allow(p0.Add(s.t)); got != s.want {
			t.Errorf("step %d: allow(t0+%v) = %v, want %v", i, s.t, got, s.want)
		}
	}
}

// TestManagerPaces: blocks at one instant beyond the burst wait for the
// refill, and a wait the context cannot afford fails the block.
func TestManagerPaces(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.DefaultACL("acl-2")
	m, err := NewManager(ManagerConfig{Blocker: Config{ACLIDs: []string{"acl-1", "acl-2"}}, MutateRate: 5, MutateBurst: 4, MaxBlocksPerMinute: -1}, srv.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	m.wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return sleepCtx(ctx, 0)
	}
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		m.Block(ctx, netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), p0)
	}
	if want := []time.Duration{0, 0, 400 * time.Millisecond}; !slices.Equal(waits, want) {
		t.Errorf("waits = %v, want %v (2 calls per block, burst 4, 5/s)", waits, want)
	}
	m.wait = sleepCtx
	dctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	evs := m.Block(dctx, netip.MustParseAddr("198.51.100.4"), p0)
	if st, reason := evs[0].Status, evs[0].Reason; st != StatusFailed || reason != ReasonTimeout {
		t.Errorf("Block needing an 800ms wait with 10ms left = %q %q, want failed to block %q", st, reason, ReasonTimeout)
	}
}
