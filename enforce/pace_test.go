package enforce_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/enforce"
)

// TestPaces: blocks at one instant beyond the burst wait for the refill,
// and a wait the context cannot afford fails the block.
func TestPaces(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.DefaultACL("acl-2")
	m := newManager(t, srv, config{ACLIDs: []string{"acl-1", "acl-2"}, MutateRate: 5, MutateBurst: 4})
	var waits []time.Duration
	enforce.SetWait(m.Enforcer, func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return enforce.SleepCtx(ctx, 0)
	})
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		m.Block(ctx, netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), t0)
	}
	if want := []time.Duration{0, 0, 400 * time.Millisecond}; !slices.Equal(waits, want) {
		t.Errorf("waits = %v, want %v (2 calls per block, burst 4, 5/s)", waits, want)
	}
	enforce.SetWait(m.Enforcer, enforce.SleepCtx)
	dctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	evs := m.Block(dctx, netip.MustParseAddr("198.51.100.4"), t0)
	if e := evs[0]; e.Status != ban.Failed || e.Text() != "timeout" {
		t.Errorf("Block needing an 800ms wait with 10ms left = %q %q, want failed to block %q", e.Status, e.Text(), "timeout")
	}
}

// BenchmarkCovers asks about an unbanned address with a full ACL (18 bans).
func BenchmarkCovers(b *testing.B) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	m, err := build(b, srv, config{ACLIDs: []string{"acl-1"}, MaxBlocksPerMinute: -1, MutateRate: -1})
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i <= 18; i++ {
		m.Block(context.Background(), netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), t0, 0)
	}
	a := netip.MustParseAddr("203.0.113.7")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := m.Covering(a); ok {
			b.Fatal("covered")
		}
	}
}
