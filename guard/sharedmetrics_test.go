package guard

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dosguard/dosguard/conf"
)

// sumShared adds up the shared counters of the fleet's running guards.
func (f *fleet) sumShared(t *testing.T) SharedStats {
	t.Helper()
	var sum SharedStats
	for _, m := range f.gs {
		if m.closed {
			continue
		}
		st, ok := m.g.SharedStats()
		if !ok {
			t.Fatal("SharedStats: not ok with Redis_URL")
		}
		if st.RoundCount != uint64(st.RoundsOK+st.RoundsFailed) || st.RoundCounts[len(st.RoundCounts)-1] > st.RoundCount {
			t.Errorf("round histogram: count %d, le counts %v, rounds ok %d failed %d: inconsistent",
				st.RoundCount, st.RoundCounts, st.RoundsOK, st.RoundsFailed)
		}
		sum.RoundsOK += st.RoundsOK
		sum.RoundsFailed += st.RoundsFailed
		sum.Dropped += st.Dropped
		sum.ClaimsWon += st.ClaimsWon
		sum.ClaimsLost += st.ClaimsLost
		sum.ClaimErrors += st.ClaimErrors
		sum.Merged += st.Merged
		sum.Up = st.Up // the fleet's guards see the same Redis
	}
	return sum
}

// TestSharedStats: the counters behind the Redis metrics follow what the
// fleet did: one claim won and one lost for a trip seen by two replicas,
// the ban merged by the other two, rounds ok while Redis answers, failed
// and Redis down while it does not, counts dropped beyond
// Redis_Max_Pending.
func TestSharedStats(t *testing.T) {
	f := newFleet(t, 3, conf.Props{"Threshold": "100", "Redis_Max_Pending": "1000"})
	if _, ok := (&Guard{}).SharedStats(); ok {
		t.Error("SharedStats of a guard without Redis: ok, want not")
	}
	// Two replicas each see the attacker over the threshold on their own:
	// both claim, one wins.
	a, b := f.gs[0], f.gs[1]
	a.g.Flush(records(nil, "203.0.113.50", 120, t0, time.Millisecond), "access")
	b.g.Flush(records(nil, "203.0.113.50", 120, t0, time.Millisecond), "access")
	settle(a.g)
	settle(b.g)
	f.syncAll()
	if got := statuses(f.decisions()); len(got) != 1 || got["blocked 203.0.113.50"] != 1 {
		t.Fatalf("decisions = %v, want one block", got)
	}
	f.syncAll()
	st := f.sumShared(t)
	if st.ClaimsWon != 1 || st.ClaimsLost != 1 || st.ClaimErrors != 0 {
		t.Errorf("claims won %d lost %d errors %d, want 1 1 0", st.ClaimsWon, st.ClaimsLost, st.ClaimErrors)
	}
	if st.Merged != 2 {
		t.Errorf("bans merged = %d, want 2 (the replicas that did not block)", st.Merged)
	}
	if st.RoundsOK != 6 || st.RoundsFailed != 0 || !st.Up || st.Dropped != 0 {
		t.Errorf("rounds ok %d failed %d, up %v, dropped %d; want 6 0 true 0", st.RoundsOK, st.RoundsFailed, st.Up, st.Dropped)
	}

	f.redis.Stop()
	var spray []byte
	for i := 0; i < 3000; i++ {
		spray = records(spray, netip.AddrFrom4([4]byte{45, byte(i / 250), byte(i % 250), 1}).String(), 1, t0.Add(time.Second), 0)
	}
	a.g.Flush(spray, "access")
	f.syncAll()
	st = f.sumShared(t)
	if st.RoundsFailed != 3 || st.Up {
		t.Errorf("Redis stopped: rounds failed %d, up %v; want 3 false", st.RoundsFailed, st.Up)
	}
	if st.Dropped < 2000 {
		t.Errorf("dropped = %d with 3000 addresses and Redis_Max_Pending 1000, want >= 2000", st.Dropped)
	}
}
