package guard

import (
	"testing"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/conf"
)

// TestFirstBlockedMessageAtOnce: with Notify_Interval 10s, the first
// blocked message reaches SNS without the clock moving and without a
// notifier tick (the push wakes the publisher); a second block within the
// interval waits, and goes out grouped with the next once the interval has
// passed on the guard's clock.
func TestFirstBlockedMessageAtOnce(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "2", "Notify_Interval": "10s"})
	r.g.Flush(records(nil, "203.0.113.70", 2, t0, time.Second), "access")
	if d := r.decision(); d.Status != ban.Blocked {
		t.Fatalf("decision = %s, want blocked", d.Status)
	}
	m, body := r.message()
	if body["host"] != "203.0.113.70" || body["status"] != "blocked" || m.Attributes["status"] != "blocked" {
		t.Fatalf("first message = %s, want blocked 203.0.113.70 in the one-decision form", m.Body)
	}

	for _, h := range []string{"203.0.113.71", "203.0.113.72"} {
		r.g.Flush(records(nil, h, 2, t0, time.Second), "access")
		if d := r.decision(); d.Status != ban.Blocked || d.Host != h {
			t.Fatalf("decision = %s %s, want blocked %s", d.Status, d.Host, h)
		}
	}
	// The decisions were queued before OnDecision saw them; two ticks
	// returning means a whole round ran after that, at t0.
	r.ntick <- r.clock.Now()
	r.ntick <- r.clock.Now()
	if n := len(r.sns.Messages()); n != 1 {
		t.Fatalf("%d messages within the interval, want 1: the others wait for it", n)
	}
	r.clock.Set(t0.Add(10 * time.Second))
	r.ntick <- r.clock.Now()
	_, body = r.message()
	if ds, ok := body["decisions"].([]any); !ok || len(ds) != 2 {
		t.Fatalf("second message = %v, want a batch of the 2 decisions within the interval", body)
	}
}
