package guard

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
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

// TestNotesDropCountedAndLogged: decisions beyond the queue's cap drop the
// oldest; the publisher reports them once, with the batch, in
// Stats.NotifyErr's counter and one log line.
func TestNotesDropCountedAndLogged(t *testing.T) {
	cfg, err := conf.Parse(conf.Props{"Threshold": "2", "SNS_Topic_ARN": topic, "Notify_Interval": "10s"})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	var lost atomic.Int64
	fake := &notifytest.Fake{}
	c := &clock{now: t0}
	ns, err := newNotes(cfg, Deps{SNS: fake}, c.Now, slog.New(NewLogHandler(&logs, "output:dosguard:test", slog.LevelInfo)), &lost)
	if err != nil {
		t.Fatal(err)
	}
	for i := range notify.DefaultMaxPending + 3 {
		ns.push(notify.Decision{Rule: "r", Host: fmt.Sprintf("h%d", i), Status: ban.Blocked})
	}
	ns.pub.Round(context.Background()) // the full queue goes out at once
	if n := lost.Load(); n != 3 {
		t.Errorf("lost = %d, want the 3 oldest dropped", n)
	}
	if n := strings.Count(logs.String(), "notification failed"); n != 1 || !strings.Contains(logs.String(), "decisions=3") {
		t.Errorf("log = %q, want one line for the 3 dropped", logs.String())
	}
	if len(fake.Inputs()) == 0 {
		t.Error("nothing published from the full queue")
	}
}
