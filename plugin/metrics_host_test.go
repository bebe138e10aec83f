//go:build cgo

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/metrics/metricstest"
	"github.com/dosguard/dosguard/notify/notifytest"
)

// session drives the host one command at a time: each command's result
// line is read before the next is sent, so the test can scrape /metrics
// between flushes while the plugin is loaded and running.
type session struct {
	t      *testing.T
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
	wait   func() error
}

func startSession(t *testing.T) *session {
	t.Helper()
	cmd := hostCommand(t)
	s := &session{t: t}
	var err error
	if s.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.out = bufio.NewReader(stdout)
	cmd.Stderr = &s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.wait = cmd.Wait
	t.Cleanup(func() {
		s.in.Close()
		_ = cmd.Wait()
	})
	return s
}

// do sends one command and returns its result line; it fails the test on
// a result without want.
func (s *session) do(want, format string, args ...any) string {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.in, format+"\n", args...); err != nil {
		s.t.Fatalf("write to host: %v\nstderr:\n%s", err, s.stderr.String())
	}
	line, err := s.out.ReadString('\n')
	if err != nil {
		s.t.Fatalf("%s: host: %v\nstderr:\n%s", fmt.Sprintf(format, args...), err, s.stderr.String())
	}
	if !strings.Contains(line, want) {
		s.t.Fatalf("%s: result %q, want %q\nstderr:\n%s", fmt.Sprintf(format, args...), line, want, s.stderr.String())
	}
	return line
}

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestHostMetrics: two instances of the real .so share one /metrics
// endpoint; scraped between flushes, the counters match what the host sent
// and what the local EC2 and SNS endpoints received; no label holds an
// address; exit frees the port.
func TestHostMetrics(t *testing.T) {
	so, _ := buildAll(t)
	ec2 := acltest.NewServer()
	defer ec2.Close()
	ec2.DefaultACL(hostACL)
	sns := notifytest.NewServer()
	defer sns.Close()
	sns.AddTopic(hostTopic)
	dir := t.TempDir()
	listen := freePort(t)

	// A: 30 clients x 5 requests and 150 of the attacker; B: 100 of an IPv6
	// attacker and 3 without a usable key.
	var a []byte
	for i := 1; i <= 30; i++ {
		a = v2(a, fmt.Sprintf("198.51.100.%d", i), 5, hostT0, time.Second)
	}
	a = v2(a, "203.0.113.7", 150, hostT0, 10*time.Millisecond)
	b := v2(nil, "2001:db8::bad", 100, hostT0, 10*time.Millisecond)
	b = v2(b, "garbage", 3, hostT0, time.Millisecond)
	pa, pb := writeChunk(t, dir, "a.chunk", a), writeChunk(t, dir, "b.chunk", b)

	s := startSession(t)
	s.do("load ok", "load %s", so)
	s.do("type=2", "register")
	for _, p := range [][2]string{
		{"Threshold", "100"}, {"Rule_Name", "block.flood"}, {"Network_ACL_ID", hostACL},
		{"SNS_Topic_ARN", hostTopic}, {"EC2_Endpoint", ec2.URL()}, {"SNS_Endpoint", sns.URL()},
		{"Notify_Interval", "0"}, {"Metrics_Listen", listen},
	} {
		s.do("prop ok", "prop 0 %s %s", p[0], p[1])
	}
	for _, p := range [][2]string{{"Threshold", "50"}, {"Action", "detect"}, {"Rule_Name", "detect.scan"},
		{"SNS_Topic_ARN", hostTopic}, {"SNS_Endpoint", sns.URL()}, {"Notify_Interval", "0"}, {"Metrics_Listen", listen}} {
		s.do("prop ok", "prop 1 %s %s", p[0], p[1])
	}
	s.do("rc=1", "init 0")
	s.do("rc=1", "init 1")

	scrape := func() *metricstest.Scrape {
		t.Helper()
		m, err := metricstest.Get(listen)
		if err != nil {
			t.Fatalf("scrape %s: %v\nstderr:\n%s", listen, err, s.stderr.String())
		}
		return m
	}
	m := scrape()
	if got := m.Value("dosguard_records_total", "output=dosguard.0"); !m.Has("dosguard_records_total", "output=dosguard.1") || got != 0 {
		t.Fatalf("before any flush: records{dosguard.0} = %v, want 0 and a series for dosguard.1", got)
	}

	s.do("rc=1", "flush 0 %s access", pa)
	s.do("rc=1", "flush 1 %s access", pa)
	s.do("rc=1", "flush 0 %s access", pb)
	// The workers decide on their own goroutines: each decision is counted
	// before it is handed to SNS, so once SNS has the three messages (two
	// blocks, one detection) the counters hold them.
	deadline := time.After(30 * time.Second) // a failure bound, not a wait
	for n := 0; n < 3; n++ {
		select {
		case <-sns.Published():
		case <-deadline:
			t.Fatalf("%d SNS messages after 30s, want 3\nstderr:\n%s", n, s.stderr.String())
		}
	}
	if got := denies(ec2); len(got) != 2 {
		t.Errorf("NACL denies %q, want the two attackers", got)
	}
	// SNS has each message before the plugin's client has read its answer
	// and counted the call: scrape until the counts catch up (each scrape
	// is an HTTP round trip; the bound only turns a hang into a failure).
	for end := time.Now().Add(30 * time.Second); ; {
		m := scrape()
		if m.Value("dosguard_aws_calls_total", "service=SNS", "operation=Publish") == 3 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("SNS Publish calls counted: %v after 30s, want 3", m.Value("dosguard_aws_calls_total", "service=SNS", "operation=Publish"))
		}
	}
	m = scrape()
	o0, o1 := "output=dosguard.0", "output=dosguard.1"
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"dosguard_records_total", []string{o0}, float64(300 + 103)},
		{"dosguard_decisions_total", []string{o0, "rule=block.flood", "status=blocked"}, 2},
		{"dosguard_decisions_total", []string{o1, "rule=detect.scan", "status=detected"}, 1},
		{"dosguard_records_total", []string{o1}, 300},
		{"dosguard_records_skipped_total", []string{o0, "reason=invalid_key"}, 3},
		{"dosguard_flush_records", []string{o0}, 2},
		{"dosguard_flush_records", []string{o1}, 1},
		{"dosguard_flush_duration_seconds", []string{o0}, 2},
		{"dosguard_rule_hits_total", []string{o0, "rule=block.flood"}, 2},
		{"dosguard_rule_hits_total", []string{o1, "rule=detect.scan"}, 1},
		{"dosguard_bans_active", []string{o0, "target=" + hostACL}, 2},
		{"dosguard_target_capacity", []string{o0, "target=" + hostACL, "family=ipv6"}, 20},
		{"dosguard_aws_calls_total", []string{o0, "service=EC2"}, float64(ec2.CallCount("*"))},
		{"dosguard_aws_calls_total", []string{o0, "operation=CreateNetworkAclEntry", "outcome=ok"}, 2},
		{"dosguard_aws_calls_total", []string{o0, "service=SNS", "operation=Publish", "outcome=ok"}, 2},
		{"dosguard_aws_calls_total", []string{o1, "service=SNS", "operation=Publish", "outcome=ok"}, 1},
		{"dosguard_aws_calls_total", []string{"service=SNS", "operation=Publish"}, float64(sns.PublishCount())},
	}
	for _, c := range checks {
		if got := m.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if bad := m.AddressLabels(); len(bad) > 0 {
		t.Errorf("labels holding an address:\n%s", strings.Join(bad, "\n"))
	}

	// Exit of one instance removes its series; the last frees the port.
	s.do("rc=1", "exit 1")
	if m = scrape(); m.Has("dosguard_records_total", o1) || !m.Has("dosguard_records_total", o0) {
		t.Error("after exit 1: want only dosguard.0's series")
	}
	s.do("rc=1", "exit 0")
	if c, err := net.Dial("tcp", listen); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after both instances exited", listen)
	}
	s.do("unregister ok", "unregister")
}

func denies(srv *acltest.Server) []string {
	var out []string
	for _, e := range srv.Entries(hostACL) {
		if !e.Egress && e.RuleAction == "deny" && e.RuleNumber < 100 {
			out = append(out, e.CIDR)
		}
	}
	return out
}

// TestHostMetricsPortTaken: a Metrics_Listen address another process holds
// stops Init with one line naming the key and the value.
func TestHostMetricsPortTaken(t *testing.T) {
	so, _ := buildAll(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	run := runHost(t, fmt.Sprintf("load %s\nregister\nprop 0 Threshold 10\nprop 0 Metrics_Listen %s\ninit 0\nexpect rc 0\nunregister\n", so, addr))
	if run.err != nil {
		t.Fatalf("host: %v\n%s%s", run.err, run.stdout, run.stderr)
	}
	lines := errorLines(run.stderr)
	want := fmt.Sprintf("dosguard: Metrics_Listen: %q cannot be listened on", addr)
	if len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("error lines = %q, want one containing %q", lines, want)
	}
}
