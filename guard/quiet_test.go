package guard

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/quiet"
)

// TestSettleSeesEveryQueuedDecision: after settle, the decision of every
// hit queued before it has been made; the old check (a tick, then a look)
// could pass while a decision was still pending, since select picks among
// ready channels at random.
func TestSettleSeesEveryQueuedDecision(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "1", "Action": "detect"})
	for i := range 50 {
		r.g.Flush(records(nil, fmt.Sprintf("203.0.113.%d", i+1), 1, t0, 0), "access")
		r.tick <- r.clock.Now() // the tick competes with the hit
		settle(r.g)
		select {
		case d := <-r.decs:
			if want := fmt.Sprintf("203.0.113.%d", i+1); d.Host != want {
				t.Fatalf("round %d: decision for %s, want %s", i, d.Host, want)
			}
		default:
			t.Fatalf("round %d: settle returned before the queued hit was decided", i)
		}
	}
}

// TestQuietTableOwnsQuiet: the one table answers why and until when an
// address is quiet, for each outcome, and the detector follows it.
func TestQuietTableOwnsQuiet(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "2", "Block_Duration": "5m"})
	banned := netip.MustParseAddr("203.0.113.70")
	r.g.Flush(records(nil, banned.String(), 2, t0, time.Second), "access")
	r.decision()
	settle(r.g)
	if st, ok := r.g.quiet.State(0, banned); !ok || st.Why != quiet.Banned || !st.Until.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("banned: State = %+v %v, want banned until %v", st, ok, t0.Add(5*time.Minute))
	}
	// Quiet: more records trip nothing.
	if fs := r.g.Flush(records(nil, banned.String(), 10, t0.Add(time.Second), time.Millisecond), "access"); fs.Hits != 0 {
		t.Fatalf("hits while banned = %d, want 0", fs.Hits)
	}
	// The ban ends: the table lets it go and the detector counts afresh
	// (one record is not enough, two trip it again).
	r.clock.Set(t0.Add(5 * time.Minute))
	r.tick <- time.Time{}
	r.decision() // unblocked
	settle(r.g)
	if st, ok := r.g.quiet.State(0, banned); ok {
		t.Fatalf("after expiry: State = %+v, want not quiet", st)
	}
	if fs := r.g.Flush(records(nil, banned.String(), 1, t0.Add(5*time.Minute), 0), "access"); fs.Hits != 0 {
		t.Fatalf("first record after the ban: %d hits, want 0 (counts start from zero)", fs.Hits)
	}
	if fs := r.g.Flush(records(nil, banned.String(), 1, t0.Add(5*time.Minute+time.Second), 0), "access"); fs.Hits != 1 {
		t.Fatalf("second record after the ban: %d hits, want 1", fs.Hits)
	}
}

// TestFailedBlockBacksOff: a refused block keeps the rule quiet for the
// address one Window (back-off), then lets it trip again.
func TestFailedBlockBacksOff(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "2", "Rule_Number_Range": "1-1", "On_Full": "refuse"})
	r.g.Flush(records(nil, "203.0.113.81", 2, t0, time.Second), "access")
	r.decision() // blocked, takes the only rule number
	r.g.Flush(records(nil, "203.0.113.82", 2, t0, time.Second), "access")
	if d := r.decision(); d.Reason != "no free rule number" {
		t.Fatalf("second = %s %q, want failed: no free rule number", d.Status, d.Reason)
	}
	settle(r.g)
	a := netip.MustParseAddr("203.0.113.82")
	if st, ok := r.g.quiet.State(0, a); !ok || st.Why != quiet.Backoff || !st.Until.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after failure: State = %+v %v, want backoff until %v", st, ok, t0.Add(time.Minute))
	}
	r.clock.Set(t0.Add(time.Minute))
	r.tick <- time.Time{}
	settle(r.g)
	if _, ok := r.g.quiet.State(0, a); ok {
		t.Fatal("back-off did not lapse after one Window")
	}
}
