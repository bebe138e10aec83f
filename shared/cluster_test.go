package shared

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/shared/redistest"
)

// TestCluster: on a real three-master Redis Cluster (cluster mode, the
// client given one node as configuration endpoint), two instances' rounds
// add up for addresses on every node (no CROSSSLOT: each script's keys
// share the address's slot), and the shared bans and claims work.
func TestCluster(t *testing.T) {
	nodes := redistest.StartCluster(t, 3)
	ctx := context.Background()
	c := client(t, "redis://"+nodes[0].Addr(), true)
	cc := c.(*redis.ClusterClient)
	rules := []Rule{sliding, tumbling}
	a := NewSyncer(c, keys, rules, 5*time.Second, 1000, true)
	b := NewSyncer(c, keys, rules, 5*time.Second, 1000, true)
	var in []Delta
	for i := 0; i < 60; i++ {
		addr := netip.AddrFrom4([4]byte{45, 0, byte(i), 1}).String()
		in = append(in, delta(0, addr, 1000, 2, 1000, 2), delta(1, addr, 100, 3, 100, 3))
	}
	if _, err := a.Round(ctx, in); err != nil {
		t.Fatalf("round a: %v", err)
	}
	res, err := b.Round(ctx, in)
	if err != nil {
		t.Fatalf("round b: %v", err)
	}
	if len(res.Remotes) != 120 || res.Bans == nil {
		t.Fatalf("round b: %d remotes, bans %v; want 120 and the bans read", len(res.Remotes), res.Bans)
	}
	for _, r := range res.Remotes {
		want := map[int]int{0: 4, 1: 6}[r.Rule]
		if r.Global != want || r.Others != want/2 {
			t.Fatalf("remote %+v, want global %d others %d", r, want, want/2)
		}
	}
	// The keys really spread over the three masters.
	var used atomic.Int32 // ForEachMaster calls in parallel
	err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		if n.DBSize(ctx).Val() > 0 {
			used.Add(1)
		}
		return nil
	})
	if err != nil || used.Load() != 3 {
		t.Errorf("keys on %d masters (%v), want 3", used.Load(), err)
	}

	bans := NewBans(c, keys, 5*time.Second)
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	b1 := ban.Ban{Prefix: netip.MustParsePrefix("203.0.113.1/32"), Since: t0, ExpiresAt: t0.Add(time.Hour),
		Entries: []ban.Entry{{Target: "acl-1", Rule: 1}}, Offences: 1, Duration: time.Hour}
	won, _, err := bans.Claim(ctx, keys.Claim(b1.Prefix.Addr()), time.Minute)
	if err != nil || !won {
		t.Fatalf("first claim: %v %v", won, err)
	}
	if won, left, err := bans.Claim(ctx, keys.Claim(b1.Prefix.Addr()), time.Minute); err != nil || won || left <= 0 {
		t.Fatalf("second claim: won %v left %v err %v; want lost with time left", won, left, err)
	}
	if err := bans.Save(storeState(b1)); err != nil {
		t.Fatal(err)
	}
	other := NewBans(c, keys, 5*time.Second)
	st, err := other.Load()
	if err != nil || len(st.Bans) != 1 || !st.Bans[0].Since.Equal(t0) {
		t.Fatalf("Load = %+v, %v; want the ban", st, err)
	}
	w1, err1 := other.ClaimEnd(st.Bans[0])
	w2, err2 := bans.ClaimEnd(b1)
	if err1 != nil || err2 != nil || !w1 || w2 {
		t.Errorf("ClaimEnd: %v %v, %v %v; want exactly the first", w1, err1, w2, err2)
	}
}
