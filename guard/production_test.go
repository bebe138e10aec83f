package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/dosguard/dosguard/ban"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/notify"
)

// TestAttackersBeyondQuota: 25 attackers against a default NACL (quota 20,
// allow-all and default rule included): 18 entries; with On_Full evict each
// later attacker replaces the ban expiring soonest, which is reported as
// unblocked, reason evicted.
func TestAttackersBeyondQuota(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "1", "Max_Blocks_Per_Minute": "100"})
	var c []byte
	for i := 1; i <= 25; i++ {
		c = records(c, fmt.Sprintf("203.0.113.%d", i), 1, t0, 0)
	}
	r.g.Flush(c, "access")
	counts := map[string]int{}
	for len(counts) == 0 || counts["blocked"] < 25 {
		d := r.decision()
		counts[string(d.Status)+" "+d.Reason]++
		counts[string(d.Status)]++
	}
	if got := len(denies(r.ec2, acl1)); got != 18 {
		t.Errorf("denies = %d, want 18 (the quota less allow-all and default rule)", got)
	}
	if counts["unblocked evicted"] != 7 || counts["failed to block"] != 0 {
		t.Errorf("decisions = %v, want 25 blocked and 7 evicted", counts)
	}
}

// TestRestartKeepsBans: a second guard on the same State_File finds the
// bans, duplicates nothing and expires them on time.
func TestRestartKeepsBans(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dosguard.state")
	props := conf.Props{"Threshold": "2", "State_File": state, "Block_Duration": "10m"}
	r := newRig(t, props)
	r.g.Flush(records(nil, "203.0.113.60", 2, t0, time.Second), "access")
	if d := r.decision(); d.Status != ban.Blocked {
		t.Fatalf("decision = %s, want blocked", d.Status)
	}
	r.close()

	// The second instance shares the endpoints and the state file.
	cfg, err := conf.Parse(conf.Props{"Threshold": "2", "State_File": state, "Block_Duration": "10m",
		"Network_ACL_ID": acl1, "Notify_Interval": "0"})
	if err != nil {
		t.Fatal(err)
	}
	tick := make(chan time.Time)
	decs := make(chan notify.Decision, 10)
	g2, err := New(cfg, Deps{EC2: r.ec2.Client(t), Now: r.clock.Now, Tick: tick,
		OnDecision: func(d notify.Decision) { decs <- d }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g2.Close(context.Background())
	// Still banned: more requests do not add an entry.
	g2.Flush(records(nil, "203.0.113.60", 5, t0.Add(time.Minute), time.Second), "access")
	settle(g2)
	if got := denies(r.ec2, acl1); len(got) != 1 {
		t.Fatalf("denies after restart = %q, want the one entry", got)
	}
	r.clock.Set(t0.Add(10 * time.Minute))
	tick <- time.Time{} // a wake-up: the worker reads the clock
	select {
	case d := <-decs:
		if d.Status != ban.Unblocked || d.Host != "203.0.113.60" {
			t.Errorf("after restart: %s %s, want unblocked 203.0.113.60 at the original expiry", d.Status, d.Host)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no unblock after restart")
	}
	if got := denies(r.ec2, acl1); len(got) != 0 {
		t.Errorf("denies after expiry = %q, want none", got)
	}
}

// TestBurstIsBatched: 100 blocks within one Notify_Interval reach SNS as a
// handful of messages, every decision in exactly one of them.
func TestBurstIsBatched(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "1", "Notify_Interval": "10s", "Max_Blocks_Per_Minute": "1000",
		"Action": "detect"})
	var c []byte
	for i := 0; i < 100; i++ {
		c = records(c, fmt.Sprintf("203.0.%d.%d", 100+i/250, i%250+1), 1, t0, 0)
	}
	r.g.Flush(c, "access")
	for i := 0; i < 100; i++ {
		r.decision()
	}
	r.close()
	seen := map[string]int{}
	for _, m := range r.sns.Messages() {
		var b struct {
			Host      string                  // the one-decision form (the first)
			Decisions []struct{ Host string } `json:"decisions"`
		}
		if err := json.Unmarshal([]byte(m.Body), &b); err != nil {
			t.Fatal(err)
		}
		if b.Decisions == nil {
			b.Decisions = []struct{ Host string }{{b.Host}}
		}
		for _, d := range b.Decisions {
			seen[d.Host]++
		}
	}
	if n := r.sns.PublishCount(); n == 0 || n > 2 {
		t.Errorf("publishes = %d, want 1 or 2 for 100 decisions (the first at once, the rest at exit)", n)
	}
	if len(seen) != 100 {
		t.Errorf("distinct decisions published = %d, want 100", len(seen))
	}
	for h, n := range seen {
		if n != 1 {
			t.Errorf("%s published %d times", h, n)
		}
	}
}

// TestEvictionsReported: a spray beyond Max_Tracked_Keys shows in the stats
// and in one rate-limited log line, and the heavy hitter inside it is still
// blocked.
func TestEvictionsReported(t *testing.T) {
	cfg, err := conf.Parse(conf.Props{"Threshold": "50", "Max_Tracked_Keys": "100"})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	tick := make(chan time.Time)
	decs := make(chan notify.Decision, 10)
	clk := &clock{now: t0}
	g, err := New(cfg, Deps{Now: clk.Now, Tick: tick,
		OnDecision: func(d notify.Decision) { decs <- d }},
		slog.New(NewLogHandler(&logs, "output:dosguard:test", slog.LevelInfo)))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	var c []byte
	for i := 0; i < 5000; i++ {
		c = records(c, fmt.Sprintf("198.18.%d.%d", i/250, i%250+1), 1, t0.Add(time.Duration(i)*time.Millisecond), 0)
		if i%100 == 0 {
			c = records(c, "203.0.113.99", 1, t0.Add(time.Duration(i)*time.Millisecond), 0)
		}
	}
	g.Flush(c, "access")
	select {
	case d := <-decs:
		if d.Host != "203.0.113.99" {
			t.Errorf("decision for %s, want the heavy hitter 203.0.113.99", d.Host)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the heavy hitter hidden in the spray was not caught")
	}
	if st := g.Stats(); st.Evicted < 4000 {
		t.Errorf("evicted = %d, want the spray's one-off addresses evicted", st.Evicted)
	}
	for _, at := range []time.Duration{
		time.Minute,               // the first report
		time.Minute + time.Second, // rate-limited: no second line
		2 * time.Minute,           // nothing new: no line
	} {
		clk.Set(t0.Add(at))
		tick <- time.Time{}
	}
	settle(g)
	if n := strings.Count(logs.String(), "addresses evicted to keep memory bounded"); n != 1 {
		t.Errorf("eviction log lines = %d, want 1:\n%s", n, logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the worker and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
