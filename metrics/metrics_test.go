package metrics_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/guard"
	"github.com/dosguard/dosguard/metrics"
	"github.com/dosguard/dosguard/metrics/metricstest"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/notify/notifytest"
	"github.com/dosguard/dosguard/shared/redistest"
	"github.com/dosguard/dosguard/wafipset/waftest"
)

const (
	testACL   = "acl-0123456789abcdef0"
	testTopic = "arn:aws:sns:us-east-1:123456789012:dosguard"
	listen    = "127.0.0.1:0"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func body(host string, i int) map[string]any {
	return map[string]any{"host": host, "method": "GET", "path": fmt.Sprintf("/p/%d", i), "code": "200"}
}

// traffic is one chunk: 30 requests of 203.0.113.7 and 20 of
// 2001:db8::bad (both over the threshold of 10), 3 of each of 5 clients,
// 4 of a private address, 2 without the key and 1 invalid key: 72 records.
func traffic() []byte {
	var c []byte
	add := func(host string, n int) {
		for i := 0; i < n; i++ {
			b := body(host, i)
			if host == "" {
				delete(b, "host")
			}
			c = chunk.AppendEventV2(c, t0.Add(time.Duration(i)*time.Millisecond), map[string]any{}, b)
		}
	}
	add("203.0.113.7", 30)
	add("2001:db8::bad", 20)
	for i := 1; i <= 5; i++ {
		add(fmt.Sprintf("198.51.100.%d", i), 3)
	}
	add("10.0.0.5", 4)
	add("", 2)
	add("not-an-address", 1)
	return c
}

// env is a guard blocking in the local EC2 endpoint and publishing to the
// local SNS one, its AWS clients built by guard.AWSDeps with the metrics
// middleware, watched by an Output on a Hub.
type env struct {
	ec2       *acltest.Server
	sns       *notifytest.Server
	hub       *metrics.Hub
	out       *metrics.Output
	g         *guard.Guard
	decisions chan notify.Decision
	addr      string

	// With withShared: Redis, the IP sets next to the NACL, and the sync
	// rounds' tick.
	redis      *redistest.Server
	waf        *waftest.Server
	set4, set6 string
	syncTick   chan time.Time
}

// envOption adds to the env's configuration before the guard is built.
type envOption func(t *testing.T, e *env, props conf.Props)

// withShared turns on what other features add: the shared state on a real
// Redis and an IPv4 and an IPv6 WAF IP set beside the NACL, so that every
// series the plugin may serve is served.
func withShared(t *testing.T, e *env, props conf.Props) {
	e.redis = redistest.Start(t)
	e.waf = waftest.NewServer(t)
	e.set4 = e.waf.AddSet(waftest.Regional, "dosguard-v4", "id4", "IPV4")
	e.set6 = e.waf.AddSet(waftest.Regional, "dosguard-v6", "id6", "IPV6")
	e.syncTick = make(chan time.Time)
	props["Redis_URL"] = e.redis.URL()
	props["WAF_IP_Set_ARN"] = e.set4 + "," + e.set6
	props["WAF_Endpoint"] = e.waf.URL()
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{ec2: acltest.NewServer(), sns: notifytest.NewServer(), hub: &metrics.Hub{}, decisions: make(chan notify.Decision, 64)}
	t.Cleanup(e.ec2.Close)
	t.Cleanup(e.sns.Close)
	e.ec2.DefaultACL(testACL)
	e.sns.AddTopic(testTopic)
	home := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": notifytest.AccessKeyID, "AWS_SECRET_ACCESS_KEY": notifytest.SecretAccessKey,
		"AWS_REGION": notifytest.Region, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"),
		"AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	props := conf.Props{
		"Threshold": "10", "Rule_Name": "block.flood", "Network_ACL_ID": testACL, "SNS_Topic_ARN": testTopic,
		"EC2_Endpoint": e.ec2.URL(), "SNS_Endpoint": e.sns.URL(), "Notify_Interval": "0", "Metrics_Listen": "127.0.0.1:2022",
	}
	for _, o := range opts {
		o(t, e, props)
	}
	cfg, err := conf.Parse(props)
	if err != nil {
		t.Fatal(err)
	}
	if e.out, err = e.hub.Open(listen, "dosguard.0", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.out.Close)
	e.addr = e.hub.Addr(listen)
	deps, err := guard.AWSDeps(context.Background(), cfg, e.out.APIOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	deps.Now = func() time.Time { return t0 }
	deps.Tick = make(chan time.Time)
	deps.NotifyTick = make(chan time.Time)
	if e.syncTick != nil {
		deps.SyncTick = e.syncTick
	}
	deps.OnDecision = func(d notify.Decision) { e.decisions <- d }
	if e.g, err = guard.New(cfg, deps, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.g.Close(context.Background()) })
	if err := e.out.Watch(e.g); err != nil {
		t.Fatal(err)
	}
	return e
}

// flush flushes the traffic chunk, records it as the plugin does, waits
// for the two blocks and their SNS messages, and closes the guard.
func (e *env) flush(t *testing.T) {
	t.Helper()
	c := traffic()
	start := time.Now()
	fs := e.g.FlushAt(t0, c, "access")
	e.out.ObserveFlush(time.Since(start), fs.Records)
	deadline := time.After(30 * time.Second) // a failure bound, not a wait
	for blocked := 0; blocked < 2; {
		select {
		case d := <-e.decisions:
			if d.Status != "blocked" {
				t.Fatalf("decision %+v, want blocked", d)
			}
			blocked++
		case <-deadline:
			t.Fatal("no decisions after 30s")
		}
	}
	for n := 0; n < 2; n++ {
		select {
		case <-e.sns.Published():
		case <-deadline:
			t.Fatalf("%d SNS messages after 30s, want 2", n)
		}
	}
	// With Redis: three ticks of the sync loop; the third is taken once the
	// first two rounds are over.
	for i := 0; e.syncTick != nil && i < 3; i++ {
		e.syncTick <- t0
	}
	// SNS has the messages before the client has read its answers: close
	// the guard, which waits for the publisher, so that every call has
	// been counted. The output stays registered and is scraped after.
	if err := e.g.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func scrape(t *testing.T, addr string) *metricstest.Scrape {
	t.Helper()
	s, err := metricstest.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seriesCheck is one series a scrape must serve: its name, labels ("k=v")
// and value (a histogram's count).
type seriesCheck struct {
	name   string
	labels []string
	want   float64
}

// checkSeries checks that s serves each series of checks, with the label
// out too, at its value.
func checkSeries(t *testing.T, s *metricstest.Scrape, out string, checks []seriesCheck) {
	t.Helper()
	for _, c := range checks {
		labels := append([]string{out}, c.labels...)
		if !s.Has(c.name, labels...) {
			t.Errorf("%s%v: no such series", c.name, c.labels)
			continue
		}
		if got := s.Value(c.name, labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestEndpointCounts: what /metrics serves matches what was flushed and
// what the local EC2 and SNS endpoints received.
func TestEndpointCounts(t *testing.T) {
	e := newEnv(t)
	e.flush(t)
	s := scrape(t, e.addr)
	out := "output=dosguard.0"
	ec2Calls := func(action string) float64 { return float64(e.ec2.CallCount(action)) }
	checkSeries(t, s, out, []seriesCheck{
		{"dosguard_records_total", nil, 72},
		{"dosguard_records_skipped_total", []string{"reason=exempt"}, 4},
		{"dosguard_records_skipped_total", []string{"reason=no_key"}, 2},
		{"dosguard_records_skipped_total", []string{"reason=invalid_key"}, 1},
		{"dosguard_malformed_events_total", nil, 0},
		{"dosguard_rule_hits_total", []string{"rule=block.flood"}, 2},
		{"dosguard_rule_threshold", []string{"rule=block.flood"}, 10},
		{"dosguard_tracked_addresses", []string{"rule=block.flood"}, 7},
		{"dosguard_decisions_total", []string{"rule=block.flood", "status=blocked"}, 2},
		{"dosguard_decisions_total", []string{"status=failed"}, 0},
		{"dosguard_decisions_dropped_total", nil, 0},
		{"dosguard_notifications_lost_total", nil, 0},
		{"dosguard_bans_active", []string{"target=" + testACL, "family=ipv4"}, 1},
		{"dosguard_bans_active", []string{"target=" + testACL, "family=ipv6"}, 1},
		{"dosguard_target_capacity", []string{"target=" + testACL, "family=ipv4"}, 20},
		{"dosguard_flush_duration_seconds", nil, 1},
		{"dosguard_flush_records", nil, 1},
		// Startup_Check's DryRun create answers DryRunOperation (a client
		// error), then one real create per attacker.
		{"dosguard_aws_calls_total", []string{"service=EC2", "operation=CreateNetworkAclEntry"}, ec2Calls("CreateNetworkAclEntry")},
		{"dosguard_aws_calls_total", []string{"service=EC2", "operation=CreateNetworkAclEntry", "outcome=ok"}, 2},
		{"dosguard_aws_calls_total", []string{"service=EC2", "operation=CreateNetworkAclEntry", "outcome=client_error"}, 1},
		{"dosguard_aws_calls_total", []string{"service=EC2", "operation=DescribeNetworkAcls", "outcome=ok"}, ec2Calls("DescribeNetworkAcls")},
		{"dosguard_aws_calls_total", []string{"service=EC2"}, ec2Calls("*")},
		{"dosguard_aws_call_duration_seconds", []string{"service=EC2"}, ec2Calls("*")},
		{"dosguard_aws_calls_total", []string{"service=SNS", "operation=Publish", "outcome=ok"}, float64(e.sns.PublishCount())},
	})
	if n := e.ec2.CallCount("CreateNetworkAclEntry"); n != 3 {
		t.Errorf("EC2 received %d CreateNetworkAclEntry, want 3 (the start-up probe, one per attacker)", n)
	}
	if n := e.sns.PublishCount(); n != 2 {
		t.Errorf("SNS received %d Publish, want 2", n)
	}
	if got := s.Value("dosguard_flush_records", out); got != 1 {
		t.Errorf("records per flush: %v observations, want 1 (one per flush, not per record)", got)
	}
	if f := s.Families["dosguard_flush_records"]; f == nil || f.Metric[0].Histogram.GetSampleSum() != 72 {
		t.Errorf("dosguard_flush_records sum = %v, want 72", f)
	}
}

// TestNoAddressLabel: after blocking two addresses, no series anywhere on
// the endpoint names or holds an address.
func TestNoAddressLabel(t *testing.T) {
	e := newEnv(t)
	e.flush(t)
	s := scrape(t, e.addr)
	if len(s.Families) < 15 {
		t.Fatalf("only %d metric families served", len(s.Families))
	}
	if bad := s.AddressLabels(); len(bad) > 0 {
		t.Errorf("labels holding an address:\n%s", strings.Join(bad, "\n"))
	}
	// The check itself catches an address.
	if !strings.Contains(fmt.Sprint(s.Families["dosguard_bans_active"]), testACL) {
		t.Error("dosguard_bans_active does not name the NACL")
	}
}

// TestSharedEndpoint: two outputs on one address share the endpoint, each
// series labelled with its output; the endpoint closes with the last one.
func TestSharedEndpoint(t *testing.T) {
	var hub metrics.Hub
	cfg, err := conf.Parse(conf.Props{"Threshold": "10"})
	if err != nil {
		t.Fatal(err)
	}
	var outs []*metrics.Output
	for i := 0; i < 2; i++ {
		o, err := hub.Open(listen, fmt.Sprintf("dosguard.%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		g, err := guard.New(cfg, guard.Deps{Now: func() time.Time { return t0 }}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Watch(g); err != nil {
			t.Fatal(err)
		}
		g.FlushAt(t0, chunk.AppendEventV2(nil, t0, map[string]any{}, body("198.51.100.1", i)), "access")
		outs = append(outs, o)
	}
	addr := hub.Addr(listen)
	s := scrape(t, addr)
	for i := 0; i < 2; i++ {
		if got := s.Value("dosguard_records_total", fmt.Sprintf("output=dosguard.%d", i)); got != 1 {
			t.Errorf("dosguard_records_total{output=dosguard.%d} = %v, want 1", i, got)
		}
	}
	outs[0].Close()
	s = scrape(t, addr)
	if s.Has("dosguard_records_total", "output=dosguard.0") || !s.Has("dosguard_records_total", "output=dosguard.1") {
		t.Error("after closing dosguard.0: want only dosguard.1's series")
	}
	outs[1].Close()
	outs[1].Close() // twice is harmless
	if hub.Addr(listen) != "" {
		t.Error("endpoint still registered after the last output closed")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the last output closed", addr)
	}
	// The address is free again: a new output listens on it.
	o, err := hub.Open(addr, "dosguard.2", nil)
	if err != nil {
		t.Fatalf("reopen %s: %v", addr, err)
	}
	o.Close()
}

// TestListenError: an address already taken is one line naming the key
// and the value.
func TestListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var hub metrics.Hub
	_, err = hub.Open(ln.Addr().String(), "dosguard.0", nil)
	want := fmt.Sprintf("dosguard: Metrics_Listen: %q cannot be listened on: ", ln.Addr().String())
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("Open on a taken port: %v, want one line starting %q", err, want)
	}
}
