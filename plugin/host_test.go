//go:build cgo

package main

// These tests build the real out_dosguard.so and the C host in
// testdata/flbhost.c, which dlopen()s it and calls it exactly as Fluent Bit
// v5.1 does (structs, call order, one shared plugin struct, FlushCtx with the
// remote context, flushes from several threads and from a 24 KiB coroutine
// stack). The plugin talks to local EC2 and SNS endpoints through the real
// aws-sdk-go-v2 clients; the tests assert the NACL entries and the messages.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/notify/notifytest"
)

const (
	hostACL   = "acl-0123456789abcdef0"
	hostTopic = "arn:aws:sns:us-east-1:123456789012:dosguard"
)

var hostT0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// built holds the .so and the host, built once per test binary.
var built struct {
	once       sync.Once
	so, host   string
	err        error
	buildCmdOK bool
}

func buildAll(t *testing.T) (so, host string) {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "dosguard-host")
		if err != nil {
			built.err = err
			return
		}
		built.so = filepath.Join(dir, "out_dosguard.so")
		built.host = filepath.Join(dir, "flbhost")
		out, err := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", built.so, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("build .so: %v\n%s", err, out)
			return
		}
		out, err = exec.Command("gcc", "-O1", "-g", "-Wall", "-Werror", "-o", built.host,
			filepath.Join("testdata", "flbhost.c"), "-ldl", "-lpthread").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("build host: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.so, built.host
}

type hostRun struct {
	stdout, stderr string
	err            error
}

// runHost runs the host over script (see hostCommand).
func runHost(t *testing.T, script string) hostRun {
	t.Helper()
	cmd := hostCommand(t)
	cmd.Stdin = strings.NewReader(script)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	return hostRun{stdout: so.String(), stderr: se.String(), err: err}
}

// hostCommand is the host's command with AWS credentials for the local
// endpoints and nothing from the machine's own AWS config.
func hostCommand(t *testing.T) *exec.Cmd {
	t.Helper()
	_, host := buildAll(t)
	home := t.TempDir()
	cmd := exec.Command(host)
	cmd.Env = []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + notifytest.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + notifytest.SecretAccessKey,
		"AWS_REGION=" + notifytest.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
	}
	return cmd
}

func writeChunk(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func apacheBody(host string, i int) map[string]any {
	return map[string]any{
		"host": host, "user": "-", "method": "GET", "path": fmt.Sprintf("/index.php?id=%d", i),
		"code": "200", "size": "1234", "referer": "-", "agent": "Mozilla/5.0",
	}
}

// v2 appends n native events with EventTime timestamps.
func v2(dst []byte, host string, n int, start time.Time, step time.Duration) []byte {
	for i := 0; i < n; i++ {
		dst = chunk.AppendEventV2(dst, start.Add(time.Duration(i)*step), map[string]any{}, apacheBody(host, i))
	}
	return dst
}

// legacy appends n legacy [ts, body] events with ts made by mk.
func legacy(dst []byte, host string, n int, mk func(i int) any) []byte {
	for i := 0; i < n; i++ {
		dst = chunk.AppendEventLegacy(dst, mk(i), apacheBody(host, i))
	}
	return dst
}

func TestHostDrivesRealPlugin(t *testing.T) {
	so, _ := buildAll(t)
	ec2 := acltest.NewServer()
	defer ec2.Close()
	ec2.DefaultACL(hostACL)
	sns := notifytest.NewServer()
	defer sns.Close()
	sns.AddTopic(hostTopic)
	dir := t.TempDir()

	// A: normal traffic and 60 requests of the attacker (v2, EventTime).
	var a []byte
	for i := 1; i <= 30; i++ {
		a = v2(a, fmt.Sprintf("198.51.100.%d", i), 5, hostT0, time.Second)
	}
	a = v2(a, "203.0.113.7", 60, hostT0, 100*time.Millisecond)
	// B: 40 more from the attacker, legacy events with integer seconds of
	// every width: it crosses 100 here.
	b := legacy(nil, "203.0.113.7", 40, func(i int) any {
		switch i % 3 {
		case 0:
			return uint32(hostT0.Unix() + 6)
		case 1:
			return uint64(hostT0.Unix() + 6)
		}
		return int64(hostT0.Unix() + 6)
	})
	// C: an IPv6 attacker with float timestamps.
	c := legacy(nil, "2001:db8::bad", 100, func(i int) any { return float64(hostT0.Unix()) + float64(i)/100 })
	// D: records inside OpenTelemetry-style group markers.
	d := chunk.AppendGroupStart(nil, map[string]any{"schema": "otlp"}, map[string]any{"resource": "x"})
	d = v2(d, "198.51.100.99", 5, hostT0, time.Second)
	d = chunk.AppendGroupEnd(d)
	// E: chunk A cut in the middle of an event; F: garbage.
	e := a[:len(a)/2+7]
	f := []byte("\xc1\xc1 this is not msgpack \x00\xff")
	// G: flushed by 8 threads x 5 times: 1000 records of one host.
	g := v2(nil, "203.0.113.8", 25, hostT0.Add(10*time.Second), time.Millisecond)
	// H: flushed on a 24 KiB stack.
	h := v2(nil, "203.0.113.9", 100, hostT0.Add(20*time.Second), time.Millisecond)
	// I: bad keys and exempt addresses, 200 each: never blocked.
	var bad []byte
	for _, host := range []string{"0.0.0.0/0", "garbage", "", "10.0.0.5", "127.0.0.1", strings.Repeat("x", 100000)} {
		bad = v2(bad, host, 200, hostT0, time.Millisecond)
	}

	files := map[string][]byte{"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g, "h": h, "bad": bad}
	path := map[string]string{}
	for n, data := range files {
		path[n] = writeChunk(t, dir, n+".chunk", data)
	}

	script := fmt.Sprintf(`
load %[1]s
register
expect type 2
expect proxy 11
expect name dosguard
prop 0 Threshold 100
prop 0 Rule_Name block.flood
prop 0 Network_ACL_ID %[2]s
prop 0 SNS_Topic_ARN %[3]s
prop 0 EC2_Endpoint %[4]s
prop 0 SNS_Endpoint %[5]s
prop 0 Block_Duration 1h
prop 1 threshold 50
prop 1 action detect
prop 1 rule_name detect.scan
prop 1 sns_topic_arn %[3]s
prop 1 sns_endpoint %[5]s
prop 1 log_level warn
init 0
expect rc 1
init 1
expect rc 1
flush 0 %[6]s access
expect rc 1
flush 1 %[6]s access
expect rc 1
flush 0 %[7]s access
expect rc 1
flush 0 %[8]s access
expect rc 1
flush 0 %[9]s access
expect rc 1
flush 0 %[10]s access
expect rc 1
flush 0 %[11]s access
expect rc 1
flushempty 0 access
expect rc 1
flushthreads 0 %[12]s access 8 5
expect ok 40
flushstack 0 %[13]s access 24576
expect rc 1
flush 0 %[14]s access
expect rc 1
exit 0
expect rc 1
exit 1
expect rc 1
unregister
`, so, hostACL, hostTopic, ec2.URL(), sns.URL(),
		path["a"], path["b"], path["c"], path["d"], path["e"], path["f"], path["g"], path["h"], path["bad"])
	run := runHost(t, script)
	if run.err != nil {
		t.Fatalf("host: %v\nstdout:\n%s\nstderr:\n%s", run.err, run.stdout, run.stderr)
	}

	// The NACL holds exactly the four attackers, below the allow-all rule 100.
	var got []string
	for _, e := range ec2.Entries(hostACL) {
		if !e.Egress && e.RuleAction == "deny" && e.RuleNumber < 100 {
			got = append(got, e.CIDR)
		}
	}
	sort.Strings(got)
	want := []string{"2001:db8::bad/128", "203.0.113.7/32", "203.0.113.8/32", "203.0.113.9/32"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("NACL denies = %q, want %q\nstderr:\n%s", got, want, run.stderr)
	}

	// SNS got four blocked messages from instance 0 and one detected from 1.
	// Decisions within Notify_Interval go out as one batch message.
	status := map[string]string{}
	for _, m := range sns.Messages() {
		var body struct {
			Rule, Host, Status string
			Decisions          []struct{ Rule, Host, Status string }
		}
		if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
			t.Fatalf("bad message %q: %v", m.Body, err)
		}
		if body.Decisions == nil {
			body.Decisions = append(body.Decisions, struct{ Rule, Host, Status string }{body.Rule, body.Host, body.Status})
		}
		for _, d := range body.Decisions {
			status[d.Rule+" "+d.Host] = d.Status
		}
	}
	if n := sns.PublishCount(); n > 3 {
		t.Errorf("publishes = %d, want the decisions batched into a few", n)
	}
	wantStatus := map[string]string{
		"block.flood 203.0.113.7": "blocked", "block.flood 2001:db8::bad": "blocked",
		"block.flood 203.0.113.8": "blocked", "block.flood 203.0.113.9": "blocked",
		"detect.scan 203.0.113.7": "detected",
	}
	if fmt.Sprint(status) != fmt.Sprint(wantStatus) {
		t.Errorf("messages = %v, want %v", status, wantStatus)
	}

	// Logs are in Fluent Bit's format and name the instance.
	line := regexp.MustCompile(`(?m)^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}\] \[ warn\] \[output:dosguard:dosguard\.\d+\] blocked 203\.0\.113\.7 rule=block\.flood`)
	if !line.MatchString(run.stderr) {
		t.Errorf("no Fluent Bit style 'blocked' line in stderr:\n%s", run.stderr)
	}
	// Lines go through Fluent Bit's logger, which applies each instance's
	// log_level: instance 1 (warn) logs its decision but not its info lines.
	if strings.Contains(run.stderr, "[output:dosguard:dosguard.1] started") ||
		!strings.Contains(run.stderr, "[output:dosguard:dosguard.1] detected 203.0.113.7") {
		t.Errorf("instance 1 with log_level warn: want its warn lines only:\n%s", run.stderr)
	}
	// Exit reports the counts: truncated and garbage chunks were counted, the
	// group markers skipped, and the bad keys and exempt addresses counted.
	stopped := regexp.MustCompile(`\[output:dosguard:dosguard\.0\] stopped records=(\d+) blocked=(\d+) detected=0 failed=(\d+) unblocked=0 invalid=(\d+) no_key=200 exempt=(\d+) malformed=(\d+)`)
	sm := stopped.FindStringSubmatch(run.stderr)
	if sm == nil {
		t.Fatalf("no 'stopped' line for instance 0 in stderr:\n%s", run.stderr)
	}
	if sm[2] != "4" || sm[3] != "0" || sm[4] != "600" || sm[5] != "400" || sm[6] == "0" {
		t.Errorf("stop line: blocked=%s failed=%s invalid=%s exempt=%s malformed=%s, want 4, 0, 600, 400, > 0", sm[2], sm[3], sm[4], sm[5], sm[6])
	}
	// And what its flushes cost the threads that ran them: every flush
	// call the script makes to instance 0 counted (8 threads at once among
	// them), over the records the stop line counts.
	const flushes = 6 + 1 + 8*5 + 1 + 1
	cpu := regexp.MustCompile(`\[output:dosguard:dosguard\.0\] flush cpu seconds=[0-9.e-]+ flushes=(\d+) records=(\d+) ns_per_record=(\d+)`).FindStringSubmatch(run.stderr)
	if cpu == nil {
		t.Fatalf("no 'flush cpu' line for instance 0 in stderr:\n%s", run.stderr)
	}
	if cpu[1] != strconv.Itoa(flushes) || cpu[2] != sm[1] || cpu[3] == "0" {
		t.Errorf("flush cpu line: flushes=%s records=%s ns_per_record=%s, want %d, %s, > 0", cpu[1], cpu[2], cpu[3], flushes, sm[1])
	}
}

func TestHostBadConfigStopsInit(t *testing.T) {
	so, _ := buildAll(t)
	tests := []struct{ key, value, want string }{
		{"Threshold", "abc", `dosguard: Threshold: "abc" is not an integer >= 1`},
		{"Window", "fortnight", `dosguard: Window: "fortnight"`},
		{"Network_ACL_ID", "sg-12345678", `dosguard: Network_ACL_ID: "sg-12345678"`},
		{"Allowlist", "10.0.0.0/33", `dosguard: Allowlist: "10.0.0.0/33"`},
		{"Metrics_Listen", "2022", `dosguard: Metrics_Listen: "2022" is not host:port`},
	}
	for _, tt := range tests {
		script := fmt.Sprintf("load %s\nregister\nprop 0 Threshold 10\nprop 0 %s %s\ninit 0\nexpect rc 0\nunregister\n", so, tt.key, tt.value)
		if tt.key == "Threshold" {
			script = fmt.Sprintf("load %s\nregister\nprop 0 Threshold %s\ninit 0\nexpect rc 0\nunregister\n", so, tt.value)
		}
		run := runHost(t, script)
		if run.err != nil {
			t.Errorf("%s=%s: host: %v\n%s%s", tt.key, tt.value, run.err, run.stdout, run.stderr)
			continue
		}
		lines := errorLines(run.stderr)
		if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
			t.Errorf("%s=%s: error lines = %q, want one containing %q", tt.key, tt.value, lines, tt.want)
		}
	}
}

// TestHostStartupCheck: a Network ACL that does not exist, or credentials
// that may not write it, stop Init with one line naming the ACL.
func TestHostStartupCheck(t *testing.T) {
	so, _ := buildAll(t)
	ec2 := acltest.NewServer()
	defer ec2.Close()
	ec2.DefaultACL(hostACL)
	tests := []struct {
		acl, want string
		deny      bool
	}{
		{"acl-0aaaaaaaaaaaaaaa0", "acl-0aaaaaaaaaaaaaaa0 not found", false},
		{hostACL, "UnauthorizedOperation", true},
	}
	for _, tt := range tests {
		ec2.DenyWrites(tt.deny)
		script := fmt.Sprintf("load %s\nregister\nprop 0 Threshold 10\nprop 0 Network_ACL_ID %s\nprop 0 EC2_Endpoint %s\ninit 0\nexpect rc 0\nunregister\n",
			so, tt.acl, ec2.URL())
		run := runHost(t, script)
		if run.err != nil {
			t.Errorf("%s: host: %v\n%s%s", tt.acl, run.err, run.stdout, run.stderr)
			continue
		}
		lines := errorLines(run.stderr)
		if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
			t.Errorf("%s: error lines = %q, want one containing %q", tt.acl, lines, tt.want)
		}
	}
}

// errorLines returns the [error] lines of the host's stderr.
func errorLines(stderr string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.Contains(l, "[error]") {
			lines = append(lines, l)
		}
	}
	return lines
}
