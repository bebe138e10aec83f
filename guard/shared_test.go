package guard

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
	"github.com/dosguard/dosguard/shared/redistest"
	"github.com/dosguard/dosguard/wafipset"
)

// fleet is n guards (replicas behind one load balancer) sharing one
// redis-server, one NACL and one SNS topic, each with its own hand-driven
// clock, worker tick and sync rounds (syncAll).
type fleet struct {
	t     *testing.T
	redis *redistest.Server
	ec2   *acltest.Server
	sns   *notifytest.Server
	clock *clock
	props conf.Props
	logs  *syncBuffer
	gs    []*member
	paths int                                 // paths sent so far: each record has its own
	syncs int                                 // sync rounds per chunk in spread (0: one)
	waf   func(region string) wafipset.WAFAPI // set before add: the IP sets' clients
}

type member struct {
	g      *Guard
	tick   chan time.Time
	decs   chan notify.Decision
	closed bool
}

func newFleet(t *testing.T, n int, props conf.Props) *fleet {
	t.Helper()
	f := &fleet{t: t, redis: redistest.Start(t), ec2: acltest.NewServer(), sns: notifytest.NewServer(),
		clock: &clock{now: t0}, logs: &syncBuffer{}}
	t.Cleanup(f.ec2.Close)
	t.Cleanup(f.sns.Close)
	f.ec2.DefaultACL(acl1)
	f.sns.AddTopic(topic)
	f.props = conf.Props{"Network_ACL_ID": acl1, "SNS_Topic_ARN": topic, "Window": "60s", "Notify_Interval": "0",
		"Redis_URL": f.redis.URL(), "Redis_Timeout": "2s"}
	for k, v := range props {
		f.props[k] = v
	}
	for i := 0; i < n; i++ {
		f.add()
	}
	t.Cleanup(func() {
		for _, m := range f.gs {
			f.stop(m)
		}
	})
	return f
}

// add starts one more guard (a replica, or one started later).
func (f *fleet) add() *member {
	f.t.Helper()
	cfg, err := conf.Parse(f.props)
	if err != nil {
		f.t.Fatal(err)
	}
	m := &member{tick: make(chan time.Time), decs: make(chan notify.Decision, 100)}
	deps := Deps{EC2: f.ec2.Client(f.t), SNS: f.sns.Client(f.t), Now: f.clock.Now, Tick: m.tick,
		NotifyTick: make(chan time.Time), SyncTick: make(chan time.Time),
		OnDecision: func(d notify.Decision) { m.decs <- d }, WAF: f.waf}
	logger := slog.New(slog.NewTextHandler(f.logs, nil))
	if m.g, err = New(cfg, deps, logger); err != nil {
		f.t.Fatal(err)
	}
	if err := m.g.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	f.gs = append(f.gs, m)
	return m
}

// stop closes m (a pod going away) and checks the exit is clean.
func (f *fleet) stop(m *member) {
	if m.closed {
		return
	}
	m.closed = true
	settle(m.g)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.g.Close(ctx); err != nil {
		f.t.Errorf("Close: %v", err)
	}
}

// syncAll runs one sync round on every running guard, then one worker tick
// on each at the clock's time: the bans read are merged.
func (f *fleet) syncAll() {
	for _, m := range f.gs {
		if !m.closed {
			m.g.syncRound(context.Background())
		}
	}
	f.tickAll()
}

// tickAll wakes every running worker up and waits until each has acted.
func (f *fleet) tickAll() {
	for _, m := range f.gs {
		if !m.closed {
			m.tick <- f.clock.Now()
			settle(m.g)
		}
	}
}

// decisions drains the decisions made so far, after every worker has acted
// on the hits queued.
func (f *fleet) decisions() []notify.Decision {
	var out []notify.Decision
	for _, m := range f.gs {
		if !m.closed {
			settle(m.g)
		}
		for {
			select {
			case d := <-m.decs:
				out = append(out, d)
				continue
			default:
			}
			break
		}
	}
	return out
}

// spread feeds total requests of host, evenly over the running guards, in
// rounds chunks, with a sync round after each chunk: the load balancer and
// the sync loop interleaved.
func (f *fleet) spread(host string, total, rounds int, start time.Time) {
	var live []*member
	for _, m := range f.gs {
		if !m.closed {
			live = append(live, m)
		}
	}
	per := total / len(live) / rounds
	at := start
	for r := 0; r < rounds; r++ {
		for _, m := range live {
			var c []byte
			for i := 0; i < per; i++ { // every path once: Distinct counts each
				f.paths++
				c = chunk.AppendEventV2(c, at, nil, map[string]any{
					"host": host, "method": "GET", "path": fmt.Sprintf("/page/%d", f.paths), "code": "200",
				})
				at = at.Add(10 * time.Millisecond)
			}
			m.g.Flush(c, "access")
		}
		for s := 0; s < max(f.syncs, 1); s++ {
			f.syncAll()
		}
	}
}

func statuses(ds []notify.Decision) map[string]int {
	out := map[string]int{}
	for _, d := range ds {
		out[string(d.Status)+" "+d.Host]++
	}
	return out
}

// TestFleetBlocksOnceAtGlobalThreshold: three replicas each see a third of
// an attacker at 1.2x the threshold, never enough alone: exactly one block,
// one NACL entry, one SNS message. A client at 0.9x globally is not blocked.
func TestFleetBlocksOnceAtGlobalThreshold(t *testing.T) {
	f := newFleet(t, 3, conf.Props{"Threshold": "300"})
	f.spread("203.0.113.10", 360, 6, t0)  // 1.2x: 120 per replica
	f.spread("198.51.100.20", 270, 6, t0) // 0.9x: 90 per replica
	f.syncAll()
	got := statuses(f.decisions())
	if len(got) != 1 || got["blocked 203.0.113.10"] != 1 {
		t.Fatalf("decisions = %v, want exactly one blocked 203.0.113.10", got)
	}
	if d := denies(f.ec2, acl1); !equal(d, []string{"1 203.0.113.10/32"}) {
		t.Fatalf("NACL holds %v, want the one entry", d)
	}
	// Every replica holds the ban: more requests anywhere decide nothing.
	f.spread("203.0.113.10", 600, 2, t0.Add(30*time.Second))
	if ds := f.decisions(); len(ds) != 0 {
		t.Fatalf("after the ban: decisions %v, want none", statuses(ds))
	}
	for i, m := range f.gs {
		a := netip.MustParseAddr("203.0.113.10")
		if _, ok := m.g.enf.Covering(a); !ok || !m.g.quiet.Quiet(0, a) {
			t.Errorf("replica %d: does not hold the ban", i)
		}
	}
	for _, m := range f.gs {
		f.stop(m)
	}
	var blocked int
	for _, msg := range f.sns.Messages() {
		if strings.Contains(msg.Subject, "blocked") {
			blocked++
		}
	}
	if blocked != 1 {
		t.Errorf("SNS blocked messages = %d, want 1", blocked)
	}
}

// TestFleetSyncFasterThanFlush: with several rounds between two flushes
// (Sync_Interval below Fluent Bit's Flush), the others' counts are kept
// through the idle rounds: still exactly one block.
func TestFleetSyncFasterThanFlush(t *testing.T) {
	f := newFleet(t, 3, conf.Props{"Threshold": "300", "Sync_Interval": "200ms"})
	f.syncs = 3
	f.spread("203.0.113.11", 360, 6, t0)
	f.spread("198.51.100.21", 270, 6, t0)
	if got := statuses(f.decisions()); len(got) != 1 || got["blocked 203.0.113.11"] != 1 {
		t.Fatalf("decisions = %v, want exactly one blocked 203.0.113.11", got)
	}
}

// TestFleetAloneNeverTrips: without Redis the same spread is missed: the
// test above proves the sharing, not the split.
func TestFleetAloneNeverTrips(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "300"})
	r.g.Flush(records(nil, "203.0.113.10", 120, t0, 10*time.Millisecond), "access")
	r.noDecision()
}

// TestSharedBanOutlivesCreator: a replica started later holds the ban, and
// when the replica that made it is gone, the ban still ends once, on time.
func TestSharedBanOutlivesCreator(t *testing.T) {
	f := newFleet(t, 2, conf.Props{"Threshold": "100", "Block_Duration": "10m"})
	f.spread("203.0.113.30", 120, 6, t0)
	ds := f.decisions()
	if got := statuses(ds); got["blocked 203.0.113.30"] != 1 || len(got) != 1 {
		t.Fatalf("decisions = %v, want one block", got)
	}
	var creator *member
	for _, m := range f.gs {
		if m.g.Stats().Blocked == 1 {
			creator = m
		}
	}
	late := f.add() // a replica started after the ban: it reads the shared bans
	f.stop(creator) // the pod that made the ban goes away
	late.g.Flush(records(nil, "203.0.113.30", 200, t0.Add(time.Minute), time.Millisecond), "access")
	f.syncAll()
	if ds := f.decisions(); len(ds) != 0 {
		t.Fatalf("late replica decided %v on a banned address, want nothing", statuses(ds))
	}
	if d := denies(f.ec2, acl1); len(d) != 1 {
		t.Fatalf("NACL holds %v, want the one entry", d)
	}
	f.clock.Set(t0.Add(11 * time.Minute))
	f.tickAll()
	f.syncAll()
	f.tickAll()
	if ds := f.decisions(); len(statuses(ds)) != 1 || statuses(ds)["unblocked 203.0.113.30"] != 1 {
		t.Log(f.logs.String())
		got := ds
		t.Fatalf("after expiry: decisions %v, want one unblocked", got)
	}
	if d := denies(f.ec2, acl1); len(d) != 0 {
		t.Fatalf("NACL holds %v after expiry, want nothing", d)
	}
	for i, m := range f.gs {
		if m.closed {
			continue
		}
		if _, ok := m.g.quiet.State(0, netip.MustParseAddr("203.0.113.30")); ok {
			t.Errorf("replica %d still holds the address quiet after expiry", i)
		}
	}
	// Blocked again later: once.
	f.spread("203.0.113.30", 120, 6, t0.Add(12*time.Minute))
	if got := statuses(f.decisions()); len(got) != 1 || got["blocked 203.0.113.30"] != 1 {
		t.Fatalf("second offence: decisions %v, want one block", got)
	}
}

// TestRedisOutage: Redis stops mid-run: one warning, each replica blocks on
// its own counts; the deltas held meanwhile stay bounded; Redis back: one
// line, the bans are written again and counting is global; exit with Redis
// down is prompt.
func TestRedisOutage(t *testing.T) {
	f := newFleet(t, 2, conf.Props{"Threshold": "100", "Redis_Max_Pending": "1000"})
	f.spread("203.0.113.40", 120, 6, t0)
	if got := statuses(f.decisions()); got["blocked 203.0.113.40"] != 1 {
		t.Fatalf("before the outage: %v, want one block", got)
	}
	f.redis.Stop()
	a, b := f.gs[0], f.gs[1]
	// A spray of 3000 addresses counted during the outage: held deltas stay
	// within Redis_Max_Pending.
	var spray []byte
	for i := 0; i < 3000; i++ {
		spray = records(spray, netip.AddrFrom4([4]byte{45, byte(i / 250), byte(i % 250), 1}).String(), 1, t0.Add(time.Second), 0)
	}
	a.g.Flush(spray, "access")
	f.syncAll()
	f.syncAll()
	if h := a.g.shared.syncer.Held(); h > 1000 || h == 0 {
		t.Errorf("held deltas = %d, want 1..1000", h)
	}
	if a.g.shared.syncer.Dropped()+a.g.flush.rules[0].det.SharedDropped() < 2000 {
		t.Error("no delta counted as dropped beyond the bound")
	}
	// Alone, a replica still blocks at the threshold on its own counts.
	a.g.Flush(records(nil, "203.0.113.41", 100, t0.Add(2*time.Second), time.Millisecond), "access")
	if got := statuses(f.decisions()); len(got) != 1 || got["blocked 203.0.113.41"] != 1 {
		t.Fatalf("during the outage: %v, want a local block", got)
	}
	if n := strings.Count(f.logs.String(), "redis unreachable"); n != 2 {
		t.Errorf("warning lines = %d, want one per replica:\n%s", n, f.logs.String())
	}
	f.redis.Restart() // empty: no persistence
	f.syncAll()
	f.syncAll()
	if n := strings.Count(f.logs.String(), "redis answers again"); n != 2 {
		t.Errorf("recovery lines = %d, want one per replica", n)
	}
	// The bans are shared again: b holds a's outage ban.
	f.syncAll()
	if _, ok := b.g.enf.Covering(netip.MustParseAddr("203.0.113.41")); !ok {
		t.Error("after recovery, replica b does not hold the outage ban")
	}
	// Global again: a new attacker spread over both is blocked once.
	f.spread("203.0.113.42", 120, 6, t0.Add(3*time.Second))
	if got := statuses(f.decisions()); len(got) != 1 || got["blocked 203.0.113.42"] != 1 {
		t.Fatalf("after recovery: %v, want one block", got)
	}
	// Exit with Redis down is prompt (Close's own deadline would fail it).
	f.redis.Stop()
	f.stop(a)
	f.stop(b)
}

// TestDetectReportedOnce: a detect rule reports a global trip once across
// replicas.
func TestDetectReportedOnce(t *testing.T) {
	f := newFleet(t, 3, conf.Props{"Threshold": "90", "Action": "detect"})
	f.spread("203.0.113.50", 120, 6, t0)
	if got := statuses(f.decisions()); len(got) != 1 || got["detected 203.0.113.50"] != 1 {
		t.Fatalf("decisions = %v, want one detected", got)
	}
}

var _ = ban.Blocked

// TestFleetEveryRuleKind: every kind of rule counts globally: tumbling
// windows, Where, a Norikra query, Distinct, and several rules in one
// Rules_File (each rule keeps its own global count). Each replica sees a
// third of 1.2x the threshold: one block. At 0.9x: none.
func TestFleetEveryRuleKind(t *testing.T) {
	rulesFile := t.TempDir() + "/rules.yaml"
	if err := os.WriteFile(rulesFile, []byte(`rules:
  - name: block.flood
    query: SELECT host, COUNT(*) FROM access.win:time(1 min) GROUP BY host HAVING COUNT(*) >= 300
  - name: block.get
    where: method = 'GET'
    window_type: tumbling
    threshold: 600
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		props conf.Props
	}{
		{"tumbling", conf.Props{"Threshold": "300", "Window_Type": "tumbling"}},
		{"where", conf.Props{"Threshold": "300", "Where": "method = 'GET' AND code < 400"}},
		{"query", conf.Props{"Query": "SELECT host, COUNT(*) FROM access.win:time_batch(1 min) GROUP BY host HAVING COUNT(*) >= 300"}},
		{"distinct", conf.Props{"Threshold": "300", "Distinct": "path"}},
		{"rules file", conf.Props{"Rules_File": rulesFile}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFleet(t, 3, tt.props)
			f.spread("203.0.113.60", 360, 6, t0)
			f.spread("198.51.100.60", 270, 6, t0)
			if got := statuses(f.decisions()); len(got) != 1 || got["blocked 203.0.113.60"] != 1 {
				t.Fatalf("decisions = %v, want exactly one blocked 203.0.113.60", got)
			}
			if d := denies(f.ec2, acl1); len(d) != 1 {
				t.Errorf("NACL holds %v, want one entry", d)
			}
		})
	}
}

// TestExitWithRedisHanging: a Redis that accepts connections and never
// answers holds up neither the flush nor the exit: the round in flight is
// cut short when the guard closes.
func TestExitWithRedisHanging(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	cfg, err := conf.Parse(conf.Props{"Threshold": "5", "Redis_URL": "redis://" + l.Addr().String(), "Redis_Timeout": "30s"})
	if err != nil {
		t.Fatal(err)
	}
	syncTick := make(chan time.Time)
	logs := &syncBuffer{}
	clk := &clock{now: t0}
	g, err := New(cfg, Deps{Now: clk.Now, Tick: make(chan time.Time), SyncTick: syncTick}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	g.shared.cfg.Timeout = time.Millisecond // the start-up check only
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.shared.cfg.Timeout = 30 * time.Second
	if fs := g.Flush(records(nil, "203.0.113.80", 5, t0, time.Millisecond), "access"); fs.Hits != 1 {
		t.Fatalf("flush with Redis hanging: %+v, want the hit", fs)
	}
	syncTick <- t0 // a round starts and hangs on Redis (30s timeout)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Close(ctx); err != nil {
		t.Fatalf("Close with Redis hanging: %v", err)
	}
	if n := strings.Count(logs.String(), "redis unreachable"); n != 1 {
		t.Errorf("warning lines = %d, want 1:\n%s", n, logs.String())
	}
}

// TestStartWithRedisDown: a replica started while Redis is down does not
// adopt (and notify) the other replicas' entries it finds in the NACL; once
// Redis is back it takes their bans from it, silently.
func TestStartWithRedisDown(t *testing.T) {
	f := newFleet(t, 1, conf.Props{"Threshold": "100"})
	f.spread("203.0.113.90", 120, 6, t0)
	if got := statuses(f.decisions()); got["blocked 203.0.113.90"] != 1 {
		t.Fatalf("decisions = %v, want one block", got)
	}
	f.redis.Stop()
	f.syncAll() // the first replica sees the outage
	late := f.add()
	if ds := f.decisions(); len(ds) != 0 {
		t.Fatalf("replica started with Redis down decided %v, want nothing", statuses(ds))
	}
	f.redis.Restart() // empty
	f.syncAll()
	f.syncAll() // the first replica writes its bans back
	f.clock.Set(t0.Add(time.Minute))
	f.tickAll() // the late replica's reconcile
	if ds := f.decisions(); len(ds) != 0 {
		t.Fatalf("after Redis came back: %v, want nothing", statuses(ds))
	}
	if _, ok := late.g.enf.Covering(netip.MustParseAddr("203.0.113.90")); !ok {
		t.Error("the late replica does not hold the ban")
	}
}
