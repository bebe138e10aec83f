package shared

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/shared/redistest"
	"github.com/dosguard/dosguard/store"
)

func storeState(bs ...ban.Ban) store.State {
	return store.State{Bans: bs, History: map[netip.Prefix]ban.Offence{}}
}

// TestBansSaveByDifference: an instance writes only what it changed; its
// removal of a ban deletes the ban only if Redis still holds the same one
// (begun again elsewhere, it stays); a failed save is retried; a view read
// before one of its writes is refused.
func TestBansSaveByDifference(t *testing.T) {
	c := client(t, redistest.Start(t).URL(), false)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	mk := func(addr string, since time.Time) ban.Ban {
		return ban.Ban{Prefix: netip.PrefixFrom(netip.MustParseAddr(addr), 32), Since: since, ExpiresAt: since.Add(time.Hour),
			Entries: []ban.Entry{{Target: "acl-1", Rule: 1}}, Offences: 1, Duration: time.Hour}
	}
	a, b := NewBans(c, keys, 5*time.Second), NewBans(c, keys, 5*time.Second)
	x, y := mk("203.0.113.1", t0), mk("203.0.113.2", t0)
	if err := a.Save(storeState(x)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(storeState(x, y)); err != nil { // b adds y, keeps x
		t.Fatal(err)
	}
	// a ends x; meanwhile it was not changed: deleted. b's y is not a's: kept.
	seq := a.Seq()
	if err := a.Save(storeState()); err != nil {
		t.Fatal(err)
	}
	got := c.HKeys(ctx, keys.Bans()).Val()
	if len(got) != 1 || got[0] != "203.0.113.2/32" {
		t.Fatalf("bans after a's removal: %v, want only y", got)
	}
	if a.Adopt(seq, map[string]string{}) {
		t.Error("a view read before a's write was adopted")
	}
	// x begun again by b; a (still remembering the old x from its Load)
	// removing it must not delete the new one.
	if _, err := a.Load(); err != nil {
		t.Fatal(err)
	}
	x2 := mk("203.0.113.1", t0.Add(2*time.Hour))
	if err := b.Save(storeState(x2, y)); err != nil {
		t.Fatal(err)
	}
	a.saved["203.0.113.1/32"] = encodeBan(x) // a's stale view of x
	if err := a.Save(storeState(y)); err != nil {
		t.Fatal(err)
	}
	if v := c.HGet(ctx, keys.Bans(), "203.0.113.1/32").Val(); v != encodeBan(x2) {
		t.Errorf("the new ban of x was deleted by a stale removal: %q", v)
	}
	// ClaimEnd: one winner; a stale identity never wins.
	if won, _ := a.ClaimEnd(x); won {
		t.Error("ClaimEnd of the old x won over the new one")
	}
	w1, _ := a.ClaimEnd(x2)
	w2, _ := b.ClaimEnd(x2)
	if !w1 || w2 {
		t.Errorf("ClaimEnd of x2: %v, %v; want exactly the first", w1, w2)
	}
}

// TestBansRetryAfterOutage: a save that failed is sent again by Retry.
func TestBansRetryAfterOutage(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv.URL(), false)
	bans := NewBans(c, keys, time.Second)
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	x := ban.Ban{Prefix: netip.MustParsePrefix("203.0.113.9/32"), Since: t0, Entries: []ban.Entry{{Target: "acl-1", Rule: 4}}}
	srv.Stop()
	if err := bans.Save(storeState(x)); err == nil {
		t.Fatal("Save with Redis stopped: no error")
	}
	srv.Restart()
	if err := bans.Retry(); err != nil {
		t.Fatal(err)
	}
	st, err := NewBans(c, keys, time.Second).Load()
	if err != nil || len(st.Bans) != 1 || st.Bans[0].Entries[0].Rule != 4 {
		t.Errorf("after Retry: %+v %v, want the ban", st, err)
	}
}
