package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/dosguard/dosguard/ban"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
)

const (
	acl1  = "acl-0123456789abcdef0"
	acl2  = "acl-0fedcba9876543210"
	topic = "arn:aws:sns:us-east-1:123456789012:dosguard"
)

// t0 is the fixed start of every timeline.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// clock is a wall clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// rig is a guard wired to the local EC2 and SNS endpoints through the real
// aws-sdk-go-v2 clients, with a hand-driven clock and tick.
type rig struct {
	t     *testing.T
	g     *Guard
	ec2   *acltest.Server
	sns   *notifytest.Server
	clock *clock
	tick  chan time.Time
	ntick chan time.Time // the notifier's tick: only tests send on it
	decs  chan notify.Decision
	base  int // EC2 calls made by Start (reconcile, start-up check)
}

func newRig(t *testing.T, props conf.Props) *rig {
	t.Helper()
	return newRigWith(t, props, nil)
}

// newRigWith is newRig with before run on the EC2 endpoint before Start.
func newRigWith(t *testing.T, props conf.Props, before func(*acltest.Server)) *rig {
	t.Helper()
	r := &rig{t: t, ec2: acltest.NewServer(), sns: notifytest.NewServer(),
		clock: &clock{now: t0}, tick: make(chan time.Time), ntick: make(chan time.Time), decs: make(chan notify.Decision, 1000)}
	t.Cleanup(r.ec2.Close)
	t.Cleanup(r.sns.Close)
	r.ec2.DefaultACL(acl1)
	r.ec2.DefaultACL(acl2)
	r.sns.AddTopic(topic)
	p := conf.Props{"Network_ACL_ID": acl1, "SNS_Topic_ARN": topic, "Window": "60s", "Notify_Interval": "0"}
	for k, v := range props {
		p[k] = v
	}
	cfg, err := conf.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{SNS: r.sns.Client(t), Now: r.clock.Now, Tick: r.tick, NotifyTick: r.ntick,
		OnDecision: func(d notify.Decision) { r.decs <- d }}
	if len(cfg.ACLIDs) > 0 && cfg.Blocks() {
		deps.EC2 = r.ec2.Client(t)
	}
	r.g, err = New(cfg, deps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(r.ec2)
	}
	if err := r.g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.base = len(r.ec2.Calls())
	t.Cleanup(func() { r.close() })
	return r
}

// close closes the guard after letting a minute pass on its clock: the
// notifier runs on that clock, and a drain after more messages than the
// SNS rate limit's burst needs time to pass, as it does in a real exit.
// The hits queued so far are decided first, at the time they came.
func (r *rig) close() {
	settle(r.g)
	r.clock.Set(r.clock.Now().Add(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.g.Close(ctx); err != nil {
		r.t.Errorf("Close: %v", err)
	}
}

// decision waits for the next decision, failing after a generous deadline
// (a deadline on a channel, not a sleep).
func (r *rig) decision() notify.Decision {
	r.t.Helper()
	select {
	case d := <-r.decs:
		return d
	case <-time.After(10 * time.Second):
		r.t.Fatal("no decision within 10s")
	}
	return notify.Decision{}
}

// noDecision checks that nothing was decided, after a tick and after the
// worker has acted on every hit queued so far (settle).
func (r *rig) noDecision() {
	r.t.Helper()
	r.tick <- r.clock.Now()
	settle(r.g)
	select {
	case d := <-r.decs:
		r.t.Fatalf("unexpected decision %s %s", d.Status, d.Host)
	default:
	}
}

// message waits for the next SNS message and decodes it.
func (r *rig) message() (notifytest.Message, map[string]any) {
	r.t.Helper()
	select {
	case m := <-r.sns.Published():
		var body map[string]any
		if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
			r.t.Fatalf("message is not JSON: %v: %s", err, m.Body)
		}
		return m, body
	case <-time.After(10 * time.Second):
		r.t.Fatal("no SNS message within 10s")
	}
	return notifytest.Message{}, nil
}

// records builds a chunk of n v2 events from host, one every step from start.
func records(dst []byte, host string, n int, start time.Time, step time.Duration) []byte {
	for i := 0; i < n; i++ {
		dst = chunk.AppendEventV2(dst, start.Add(time.Duration(i)*step), nil, map[string]any{
			"host": host, "user": "-", "method": "GET", "path": fmt.Sprintf("/page/%d", i),
			"code": "200", "size": "512", "referer": "-", "agent": "curl/8.0",
		})
	}
	return dst
}

// settle returns once the worker has acted on every hit queued before the
// call: a barrier goes through the same queue, after them.
func settle(g *Guard) {
	if b := g.flush.barrier(); b != nil {
		<-b
	}
}

func denies(s *acltest.Server, id string) []string {
	var out []string
	for _, e := range s.Entries(id) {
		if !e.Egress && e.RuleAction == "deny" && e.RuleNumber < 32767 {
			out = append(out, fmt.Sprintf("%d %s", e.RuleNumber, e.CIDR))
		}
	}
	return out
}

func TestFloodIsBlockedWithinOneFlush(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "100", "Rule_Name": "block.flood"})
	// Normal traffic: 30 hosts, 10 requests each; a host at half the
	// threshold; and the attacker one request short of the threshold.
	var c []byte
	for i := 1; i <= 30; i++ {
		c = records(c, fmt.Sprintf("198.51.100.%d", i), 10, t0, time.Second)
	}
	c = records(c, "192.0.2.50", 50, t0, 100*time.Millisecond)
	c = records(c, "203.0.113.7", 99, t0, 100*time.Millisecond)
	fs := r.g.Flush(c, "access")
	if fs.Records != 30*10+50+99 || fs.Hits != 0 {
		t.Fatalf("flush 1 = %+v, want %d records and no hit", fs, 30*10+50+99)
	}
	r.noDecision()
	if got := denies(r.ec2, acl1); len(got) != 0 {
		t.Fatalf("denies after flush 1 = %q, want none", got)
	}

	// The 100th request crosses the threshold: denied in this flush's wake.
	r.clock.Set(t0.Add(20 * time.Second))
	fs = r.g.Flush(records(nil, "203.0.113.7", 1, t0.Add(20*time.Second), 0), "access")
	if fs.Hits != 1 {
		t.Fatalf("flush 2 hits = %d, want 1", fs.Hits)
	}
	d := r.decision()
	if d.Status != ban.Blocked || d.Host != "203.0.113.7" || d.Requests != 100 {
		t.Fatalf("decision = %+v, want blocked 203.0.113.7 with 100 requests", d)
	}
	if got, want := denies(r.ec2, acl1), []string{"1 203.0.113.7/32"}; !equal(got, want) {
		t.Errorf("denies = %q, want %q", got, want)
	}
	m, body := r.message()
	want := map[string]any{
		"rule": "block.flood", "host": "203.0.113.7", "requests": float64(100), "status": "blocked",
		"acl_ids": []any{acl1}, "rule_numbers": []any{float64(1)},
		"time": "2026-11-21T10:00:20Z", "processed_at": "2026-11-21T10:00:20Z",
		"expires_at": "2026-11-21T11:00:20Z",
	}
	for k, v := range want {
		if fmt.Sprint(body[k]) != fmt.Sprint(v) {
			t.Errorf("message[%q] = %v, want %v", k, body[k], v)
		}
	}
	if _, ok := body["window"]; !ok {
		t.Errorf("message has no window: %s", m.Body)
	}
	if !strings.Contains(m.Subject, "blocked") || !strings.Contains(m.Subject, "203.0.113.7") || len(m.Subject) >= 100 {
		t.Errorf("subject = %q, want status and address, under 100 characters", m.Subject)
	}
	if m.Attributes["status"] != "blocked" || m.Attributes["rule"] != "block.flood" {
		t.Errorf("attributes = %v, want status=blocked rule=block.flood", m.Attributes)
	}

	// More requests from the blocked host: quiet, no second entry.
	r.g.Flush(records(nil, "203.0.113.7", 500, t0.Add(21*time.Second), 10*time.Millisecond), "access")
	r.noDecision()
	if got := denies(r.ec2, acl1); len(got) != 1 {
		t.Errorf("denies after more traffic = %q, want one entry", got)
	}
	// The half-threshold host keeps its pace for ten more minutes: never denied.
	for m := 1; m <= 10; m++ {
		r.g.Flush(records(nil, "192.0.2.50", 50, t0.Add(time.Duration(m)*time.Minute), time.Second), "access")
	}
	r.noDecision()
	st := r.g.Stats()
	if st.Blocked != 1 || st.Failed != 0 {
		t.Errorf("stats = %+v, want 1 blocked", st)
	}
}

func TestExpiryUnblocks(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "10", "Block_Duration": "5m"})
	r.g.Flush(records(nil, "203.0.113.9", 10, t0, time.Second), "access")
	if d := r.decision(); d.Status != ban.Blocked {
		t.Fatalf("decision = %s, want blocked", d.Status)
	}
	r.message()
	steps := []struct {
		at        time.Duration
		wantDeny  int
		wantUnblk bool
	}{
		{4 * time.Minute, 1, false},
		{5*time.Minute - time.Second, 1, false},
		{5 * time.Minute, 0, true},
	}
	for i, s := range steps {
		r.clock.Set(t0.Add(s.at))
		r.tick <- t0.Add(s.at)
		if s.wantUnblk {
			d := r.decision()
			if d.Status != ban.Unblocked || d.Host != "203.0.113.9" {
				t.Fatalf("step %d: decision = %s %s, want unblocked 203.0.113.9", i, d.Status, d.Host)
			}
			_, body := r.message()
			if body["status"] != "unblocked" {
				t.Errorf("step %d: message status = %v, want unblocked", i, body["status"])
			}
		} else {
			r.noDecision()
		}
		if got := len(denies(r.ec2, acl1)); got != s.wantDeny {
			t.Errorf("step %d: at +%v denies = %d, want %d", i, s.at, got, s.wantDeny)
		}
	}
	// The address can trip the rule again after its ban (once the worker,
	// which reported the unblock before it let the address go, is done).
	settle(r.g)
	r.g.Flush(records(nil, "203.0.113.9", 10, t0.Add(6*time.Minute), time.Second), "access")
	if d := r.decision(); d.Status != ban.Blocked {
		t.Errorf("after expiry: decision = %s, want blocked again", d.Status)
	}
}

func TestDetectLeavesACLAlone(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "10", "Action": "detect"})
	r.g.Flush(records(nil, "203.0.113.10", 20, t0, time.Second), "access")
	d := r.decision()
	if d.Status != ban.Detected || d.Rule != "detect.default" {
		t.Fatalf("decision = %s %s, want detected by detect.default", d.Status, d.Rule)
	}
	_, body := r.message()
	if body["status"] != "detected" {
		t.Errorf("message status = %v", body["status"])
	}
	if n := r.ec2.CallCount(acltest.CreateNetworkAclEntry) + r.ec2.CallCount(acltest.DescribeNetworkAcls); n != 0 {
		t.Errorf("EC2 calls = %d, want none for a detect rule", n)
	}
}

func TestTwoACLsAndIPv6(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "5", "Network_ACL_ID": acl1 + "," + acl2})
	r.g.Flush(records(nil, "2001:db8::bad", 5, t0, time.Second), "access")
	d := r.decision()
	if d.Status != ban.Blocked || len(d.RuleNumbers) != 2 {
		t.Fatalf("decision = %+v, want blocked in two ACLs", d)
	}
	for _, id := range []string{acl1, acl2} {
		if got, want := denies(r.ec2, id), []string{"1 2001:db8::bad/128"}; !equal(got, want) {
			t.Errorf("%s denies = %q, want %q", id, got, want)
		}
	}
}

func TestNeverBlocked(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "3", "Allowlist": "198.51.100.0/24"})
	var c []byte
	for _, host := range []string{"198.51.100.7", "10.0.0.5", "127.0.0.1", "fd00::1", "fe80::1",
		"0.0.0.0/0", "::/0", "0.0.0.0", "not-an-ip", "", "203.0.113.1/32", strings.Repeat("9", 1<<20)} {
		c = records(c, host, 10, t0, time.Second)
	}
	c = chunk.AppendEventV2(c, t0, nil, map[string]any{"path": "/no-host"})
	c = chunk.AppendEventV2(c, t0, nil, map[string]any{"host": 1234})
	r.g.Flush(c, "access")
	r.noDecision()
	if n := len(r.ec2.Calls()) - r.base; n != 0 {
		t.Errorf("EC2 calls after start = %d, want none", n)
	}
	st := r.g.Stats()
	// An empty value counts as no key, as "-" (Apache's missing value) does.
	if st.Exempt != 60 || st.Invalid != 51 || st.NoKey != 11 {
		t.Errorf("stats = exempt %d invalid %d no_key %d, want 60 51 11", st.Exempt, st.Invalid, st.NoKey)
	}
}

func TestFullACLFailsWithReason(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "2", "Rule_Number_Range": "1-2", "On_Full": "refuse"})
	for i, host := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		r.g.Flush(records(nil, host, 2, t0.Add(time.Duration(i)*time.Second), time.Millisecond), "access")
	}
	got := map[string]notify.Decision{}
	for i := 0; i < 3; i++ {
		d := r.decision()
		got[d.Host] = d
	}
	if d := got["203.0.113.3"]; d.Status != ban.Failed || d.Reason != "no free rule number" {
		t.Errorf("third = %s %q, want failed to block: no free rule number", d.Status, d.Reason)
	}
	for _, h := range []string{"203.0.113.1", "203.0.113.2"} {
		if got[h].Status != ban.Blocked {
			t.Errorf("%s = %s, want blocked", h, got[h].Status)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		_, body := r.message()
		seen[fmt.Sprint(body["status"])] = true
		if body["status"] == "failed to block" && body["reason"] != "no free rule number" {
			t.Errorf("failed message reason = %v", body["reason"])
		}
	}
	if !seen["failed to block"] {
		t.Error("no failed to block message published")
	}
}

func TestThrottlingAndErrorsEndInADecision(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "2", "AWS_Timeout": "2s"})
	r.ec2.Fail(acltest.CreateNetworkAclEntry, "RequestLimitExceeded", 503, 2)
	r.g.Flush(records(nil, "203.0.113.20", 2, t0, time.Second), "access")
	if d := r.decision(); d.Status != ban.Blocked {
		t.Fatalf("after 2 throttles: %s %q, want blocked (retried)", d.Status, d.Reason)
	}
	r.ec2.Fail(acltest.DescribeNetworkAcls, "InternalError", 500, 100)
	r.g.Flush(records(nil, "203.0.113.21", 2, t0, time.Second), "access")
	d := r.decision()
	if d.Status != ban.Failed || d.Reason == "" {
		t.Fatalf("after a 5xx storm: %s %q, want failed to block with a reason", d.Status, d.Reason)
	}
}

func TestSNSOutageDoesNotHoldUpBlocking(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "2"})
	release := r.sns.Stall()
	r.g.Flush(records(nil, "203.0.113.30", 2, t0, time.Second), "access")
	r.g.Flush(records(nil, "203.0.113.31", 2, t0, time.Second), "access")
	for i := 0; i < 2; i++ {
		if d := r.decision(); d.Status != ban.Blocked {
			t.Fatalf("decision %d = %s, want blocked while SNS stalls", i, d.Status)
		}
	}
	if got := len(denies(r.ec2, acl1)); got != 2 {
		t.Errorf("denies while SNS stalls = %d, want 2", got)
	}
	release()
	r.message()
	r.message()
}

func TestCloseDrainsQueue(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "1", "Notify_Interval": "10s"})
	var c []byte
	for i := 1; i <= 10; i++ {
		c = records(c, fmt.Sprintf("203.0.113.%d", 100+i), 1, t0, 0)
	}
	r.g.Flush(c, "access")
	r.close()
	if got := len(denies(r.ec2, acl1)); got != 10 {
		t.Errorf("denies after Close = %d, want 10: exit must drain the queue", got)
	}
	// The ten decisions fall in one Notify_Interval: the first goes out at
	// once, alone, and exit publishes the other nine at once, as one batch;
	// or all ten as one batch, when the publisher first woke after Close.
	msgs := r.sns.Messages()
	if len(msgs) == 0 || len(msgs) > 2 {
		t.Fatalf("publishes after Close = %d, want 1 or 2 (the first at once, the rest as one batch)", len(msgs))
	}
	seen := map[string]int{}
	var sizes []int
	for i, m := range msgs {
		var batch struct {
			Decisions []map[string]any `json:"decisions"`
			Counts    map[string]int   `json:"counts"`
		}
		if err := json.Unmarshal([]byte(m.Body), &batch); err != nil {
			t.Fatal(err)
		}
		if batch.Decisions == nil {
			var one map[string]any
			if err := json.Unmarshal([]byte(m.Body), &one); err != nil {
				t.Fatal(err)
			}
			batch.Decisions = []map[string]any{one}
			batch.Counts = map[string]int{fmt.Sprint(one["status"]): 1}
		}
		if len(batch.Decisions) != batch.Counts["blocked"] {
			t.Errorf("message %d = %d decisions, counts %v; want all blocked", i, len(batch.Decisions), batch.Counts)
		}
		for _, d := range batch.Decisions {
			seen[fmt.Sprint(d["host"])]++
		}
		sizes = append(sizes, len(batch.Decisions))
	}
	if s := fmt.Sprint(sizes); s != "[1 9]" && s != "[10]" {
		t.Errorf("messages hold %s decisions, want [1 9] (the first alone at once) or [10]", s)
	}
	for i := 1; i <= 10; i++ {
		if h := fmt.Sprintf("203.0.113.%d", 100+i); seen[h] != 1 {
			t.Errorf("%s published %d times, want once", h, seen[h])
		}
	}
	// A flush after Close is harmless.
	r.g.Flush(records(nil, "203.0.113.200", 5, t0, 0), "access")
}

func TestDryRunDecidesWithoutWriting(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "3", "Dry_Run": "on"})
	r.g.Flush(records(nil, "203.0.113.40", 3, t0, time.Second), "access")
	d := r.decision()
	if d.Status != ban.Blocked || !d.DryRun {
		t.Fatalf("decision = %s dry_run=%v, want blocked in dry-run", d.Status, d.DryRun)
	}
	if n := r.ec2.CallCount(acltest.CreateNetworkAclEntry); n != 0 {
		t.Errorf("CreateNetworkAclEntry calls = %d in dry-run, want 0", n)
	}
	_, body := r.message()
	if body["dry_run"] != true {
		t.Errorf("message dry_run = %v, want true", body["dry_run"])
	}
}

func TestConcurrentFlushes(t *testing.T) {
	r := newRig(t, conf.Props{"Threshold": "400"})
	c := records(nil, "203.0.113.50", 50, t0, time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.g.Flush(c, "access")
		}()
	}
	wg.Wait()
	d := r.decision()
	if d.Status != ban.Blocked || d.Requests != 400 {
		t.Fatalf("decision = %s requests=%d, want blocked at exactly 400", d.Status, d.Requests)
	}
	r.noDecision()
	if st := r.g.Stats(); st.Records != 400 {
		t.Errorf("records = %d, want 400", st.Records)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "|") == strings.Join(b, "|")
}
