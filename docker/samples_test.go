package docker

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/conf"
)

// strptimeLayout translates the strptime directives Fluent Bit's
// Time_Format uses here into a Go time layout.
func strptimeLayout(format string) (string, error) {
	directives := map[byte]string{
		'Y': "2006", 'm': "01", 'd': "02", 'H': "15", 'M': "04", 'S': "05",
		'z': "-0700", 'b': "Jan", 'L': "999999999",
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		i++
		if i == len(format) {
			return "", fmt.Errorf("time format %q: trailing %%", format)
		}
		d, ok := directives[format[i]]
		if !ok {
			return "", fmt.Errorf("time format %q: %%%c is not translated by the tests", format, format[i])
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

// parser is a Fluent Bit parser from docker/parsers.conf, run with Go.
type parser struct {
	name    string
	json    bool
	re      *regexp.Regexp
	timeKey string
	layout  string
}

// record is a parsed log record; absent keys are missing from the map.
type record map[string]string

// parse parses one line; ok is false when a regex does not match or the
// JSON is invalid.
func (p parser) parse(line string) (rec record, ts time.Time, ok bool, err error) {
	rec = record{}
	if p.json {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			return nil, ts, false, nil
		}
		for k, v := range m {
			if s, isString := v.(string); isString {
				rec[k] = s
			} else {
				rec[k] = fmt.Sprint(v)
			}
		}
	} else {
		m := p.re.FindStringSubmatch(line)
		if m == nil {
			return nil, ts, false, nil
		}
		for i, n := range p.re.SubexpNames() {
			if n != "" && m[i] != "" { // Fluent Bit skips groups that did not take part
				rec[n] = m[i]
			}
		}
	}
	if p.timeKey != "" {
		v, has := rec[p.timeKey]
		if !has {
			return rec, ts, true, fmt.Errorf("parser %s: no %s field", p.name, p.timeKey)
		}
		ts, err = time.Parse(p.layout, v)
		if err != nil {
			return rec, ts, true, fmt.Errorf("parser %s: %w", p.name, err)
		}
	}
	return rec, ts, true, nil
}

// loadParsers reads a parsers file into Go parsers.
func loadParsers(t *testing.T, file string) map[string]parser {
	t.Helper()
	out := map[string]parser{}
	for _, p := range loadConfig(t, file, nil).Sections("parser") {
		ps := parser{name: p.Get("name"), timeKey: p.Get("time_key")}
		switch strings.ToLower(p.Get("format")) {
		case "json":
			ps.json = true
		case "regex":
			re, err := regexp.Compile(p.Get("regex"))
			if err != nil {
				t.Fatalf("%s: parser %s: %v", file, ps.name, err)
			}
			ps.re = re
		}
		if tf := p.Get("time_format"); tf != "" {
			l, err := strptimeLayout(tf)
			if err != nil {
				t.Fatal(err)
			}
			ps.layout = l
		}
		out[ps.name] = ps
	}
	return out
}

func readLines(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestAccessLogParsers runs apache2 and nginx over every line of the
// Apache sample (nginx's combined format is the same) and over lines that
// scanners produce: the client field must always be the first token.
func TestAccessLogParsers(t *testing.T) {
	parsers := loadParsers(t, "parsers.conf")
	odd := []string{
		`198.51.100.9 - - [21/Nov/2026:10:00:00 +0000] "\x16\x03\x01\x00\xa5\x01" 400 226 "-" "-"`,
		`198.51.100.9 - - [21/Nov/2026:10:00:00 +0000] "-" 408 - "-" "-"`,
		`198.51.100.9 - frank [21/Nov/2026:10:00:00 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
		`198.51.100.9 - - [21/Nov/2026:10:00:00 +0000] "GET /a b c HTTP/1.1" 400 0 "-" "x"`,
		`2001:db8::1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/2.0" 200 5 "https://example.com/?q=\"x\"" "agent \"quoted\""`,
	}
	lines := append(readLines(t, "samples/apache_access.log"), odd...)
	for _, tc := range []struct{ parser, field string }{{"apache2", "host"}, {"nginx", "remote"}} {
		p, ok := parsers[tc.parser]
		if !ok {
			t.Fatalf("no parser %s", tc.parser)
		}
		for i, line := range lines {
			rec, ts, ok, err := p.parse(line)
			if !ok || err != nil {
				t.Fatalf("%s: line %d: no match (err %v): %s", tc.parser, i+1, err, line)
			}
			if want := strings.Fields(line)[0]; rec[tc.field] != want {
				t.Errorf("%s: line %d: %s = %q, want %q", tc.parser, i+1, tc.field, rec[tc.field], want)
			}
			if ts.Year() != 2026 {
				t.Errorf("%s: line %d: time %v", tc.parser, i+1, ts)
			}
		}
	}
}

// rightmostXFF is the reference the xff_client regex must agree with: the
// last comma-separated entry of all the X-Forwarded-For header lines
// joined in order (RFC 9110: field lines of one name combine).
func rightmostXFF(header string) (string, bool) {
	var values []string
	for _, l := range strings.Split(strings.ReplaceAll(header, "\r\n", "\n"), "\n") {
		name, value, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(name, "X-Forwarded-For") {
			values = append(values, value)
		}
	}
	if len(values) == 0 {
		return "", false
	}
	parts := strings.Split(strings.Join(values, ","), ",")
	last := strings.TrimSpace(parts[len(parts)-1])
	return last, last != ""
}

// TestXFFClient checks the xff_client regex on forged and odd headers: it
// must take the entry the ALB appended, never one the client wrote.
func TestXFFClient(t *testing.T) {
	p := loadParsers(t, "parsers.conf")["xff_client"]
	if p.re == nil {
		t.Fatal("no regex parser xff_client")
	}
	tests := []struct {
		name, header, want string // want "" means no match
	}{
		{"single", "Host: a\r\nX-Forwarded-For: 203.0.113.5\r\nUser-Agent: x\r\n", "203.0.113.5"},
		{"forged left entry", "X-Forwarded-For: 192.0.2.1, 203.0.113.5\r\nUser-Agent: x\r\n", "203.0.113.5"},
		{"several forged", "X-Forwarded-For: 192.0.2.1, 192.0.2.2,192.0.2.3, 203.0.113.5\r\n", "203.0.113.5"},
		{"lower case, no spaces, end of text", "Host: a\r\nx-forwarded-for: 192.0.2.1,203.0.113.5", "203.0.113.5"},
		{"LF line ends", "Host: a\nX-Forwarded-For: 192.0.2.1, 203.0.113.5\nAccept: */*\n", "203.0.113.5"},
		{"IPv6", "X-Forwarded-For: 2001:db8::1, 2001:db8::bad\r\n", "2001:db8::bad"},
		{"garbage forged", "X-Forwarded-For: <script>, evil stuff,, 198.51.100.4 \r\n", "198.51.100.4"},
		{"first header", "X-Forwarded-For: 198.51.100.4\r\nHost: a\r\n", "198.51.100.4"},
		{"look-alike header name", "X-Forwarded-For-Original: 192.0.2.1\r\nX-Forwarded-For: 198.51.100.4\r\n", "198.51.100.4"},
		{"header after a bare LF", "Referer: /?\nX-Forwarded-For: 192.0.2.1\r\n", "192.0.2.1"},
		{"name inside another value, same line", "Referer: /?X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 198.51.100.4\r\n", "198.51.100.4"},
		{"no header", "Host: a\r\nUser-Agent: x\r\n", ""},
		{"two lines: the client's own first", "Host: a\nX-Forwarded-For: 192.0.2.1\nX-Forwarded-For: 203.0.113.50\n\n", "203.0.113.50"},
		{"two lines apart, CRLF", "X-Forwarded-For: 192.0.2.1, 192.0.2.9\r\nHost: a\r\nX-Forwarded-For: 192.0.2.2, 198.51.100.4\r\n\r\n", "198.51.100.4"},
		{"three lines", "X-Forwarded-For: 192.0.2.1\nX-Forwarded-For: 192.0.2.2\nX-Forwarded-For: 198.51.100.4\n", "198.51.100.4"},
	}
	for _, tc := range tests {
		rec, _, ok, _ := p.parse(tc.header)
		got := ""
		if ok {
			got = rec["xff_client"]
		}
		if got != tc.want {
			t.Errorf("%s: xff_client = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestHoneypotSample runs the wowhoneypot and xff_client parsers over every
// line of the honeypot sample (the real program's format: LF header line
// ends, base64 payload, a version field), with LF and CRLF header line
// ends: the client is always the rightmost X-Forwarded-For entry of all
// the lines, clientip always the ALB's private address, and the forged
// 192.0.2.1 never comes out, not even from the two-line forgery.
func TestHoneypotSample(t *testing.T) {
	parsers := loadParsers(t, "parsers.conf")
	jsonP, xff := parsers["wowhoneypot"], parsers["xff_client"]
	twoLines := 0
	defer func() {
		if twoLines == 0 {
			t.Error("no two-line X-Forwarded-For forgery in the sample")
		}
	}()
	for i, line := range readLines(t, "samples/wowhoneypot.jsonl") {
		rec, ts, ok, err := jsonP.parse(line)
		if !ok || err != nil {
			t.Fatalf("line %d: wowhoneypot parser: ok %v, err %v", i+1, ok, err)
		}
		if ts.Year() != 2026 || ts.Format("-0700") != "+0900" {
			t.Errorf("line %d: time %v", i+1, ts)
		}
		if a, err := netip.ParseAddr(rec["clientip"]); err != nil || !a.IsPrivate() {
			t.Errorf("line %d: clientip %q is not the ALB's private address", i+1, rec["clientip"])
		}
		want, ok := rightmostXFF(rec["header"])
		if !ok {
			t.Fatalf("line %d: no X-Forwarded-For in the sample header", i+1)
		}
		if !strings.HasSuffix(rec["header"], "\n\n") || strings.Contains(rec["header"], "\r") || rec["version"] != "HTTP/1.1" {
			t.Errorf("line %d: not the real format (LF header ending in a blank line, version): %q, %q", i+1, rec["header"], rec["version"])
		}
		if _, err := base64.StdEncoding.DecodeString(rec["payload"]); err != nil {
			t.Errorf("line %d: payload %q is not base64", i+1, rec["payload"])
		}
		if strings.Count(rec["header"], "X-Forwarded-For:") > 1 {
			twoLines++
		}
		for _, h := range []string{rec["header"], strings.ReplaceAll(rec["header"], "\n", "\r\n")} {
			got, _, ok, _ := xff.parse(h)
			if !ok || got["xff_client"] != want {
				t.Fatalf("line %d: xff_client = %q (match %v), want %q", i+1, got["xff_client"], ok, want)
			}
			if got["xff_client"] == "192.0.2.1" {
				t.Fatalf("line %d: the forged address came out", i+1)
			}
		}
	}
}

// TestALBSample runs the alb parser over the ALB sample: client_ip is the
// address before the last colon of the client:port field.
func TestALBSample(t *testing.T) {
	p := loadParsers(t, "parsers.conf")["alb"]
	for i, line := range readLines(t, "samples/alb_access.log") {
		rec, ts, ok, err := p.parse(line)
		if !ok || err != nil {
			t.Fatalf("line %d: ok %v, err %v", i+1, ok, err)
		}
		hostPort := strings.Fields(line)[3]
		want := hostPort[:strings.LastIndex(hostPort, ":")]
		if rec["client_ip"] != want {
			t.Errorf("line %d: client_ip = %q, want %q", i+1, rec["client_ip"], want)
		}
		if ts.Year() != 2026 || ts.Nanosecond()%1000 != 0 {
			t.Errorf("line %d: time %v", i+1, ts)
		}
	}
}

// observation is one request a dosguard output sees.
type observation struct {
	key string
	at  time.Time
}

// replay runs a config's pipeline over the files its tail inputs name the
// way Fluent Bit would for these configs (tail + parser, then parser and
// modify-copy filters), and returns what each dosguard output observes.
func replay(t *testing.T, file string, ctx configContext, f *conf.File, cfgs []conf.Config) [][]observation {
	t.Helper()
	pf, _ := ctx.resolveFile(file, serviceParsersFile(f), true)
	parsers := loadParsers(t, pf)
	outputs := f.Outputs("dosguard")
	obs := make([][]observation, len(outputs))
	keys := make([]string, len(cfgs))
	for i, c := range cfgs {
		keys[i] = sampleRule(t, c).ResolvedKey()[0]
	}
	for _, in := range f.Sections("input") {
		tag := in.Get("tag")
		p := parsers[in.Get("parser")]
		for _, local := range ctx.resolveGlob(in.Get("path")) {
			for n, line := range readLines(t, local) {
				rec, ts, ok, err := p.parse(line)
				if !ok || err != nil {
					t.Fatalf("%s:%d: parser %s: ok %v, err %v", local, n+1, p.name, ok, err)
				}
				for _, fl := range f.Sections("filter") {
					if !matches(fl.Get("match"), tag) {
						continue
					}
					switch strings.ToLower(fl.Get("name")) {
					case "parser":
						if v, has := rec[fl.Get("key_name")]; has {
							if sub, _, ok, _ := parsers[fl.Get("parser")].parse(v); ok {
								for k, v := range sub {
									rec[k] = v
								}
							}
						}
					case "modify":
						from, to, _ := strings.Cut(fl.Get("copy"), " ")
						if v, has := rec[from]; has {
							if _, exists := rec[to]; !exists {
								rec[to] = v
							}
						}
					default:
						t.Fatalf("filter %s is not replayed by the test", fl.Get("name"))
					}
				}
				for i, o := range outputs {
					if key, has := rec[keys[i]]; has && matches(o.Get("match"), tag) {
						obs[i] = append(obs[i], observation{key, ts})
					}
				}
			}
		}
	}
	return obs
}

// sampleRule is the one rule of a sample's output, the only one the replay
// counts: keyed by a top-level field.
func sampleRule(t *testing.T, c conf.Config) conf.Rule {
	t.Helper()
	if len(c.Rules) != 1 || len(c.Rules[0].ResolvedKey()) != 1 {
		t.Fatalf("rules %+v: the replay counts one rule keyed by a top-level field", c.Rules)
	}
	return c.Rules[0]
}

// tripped returns, sorted, the keys whose requests within any Window of the
// output's rule (see sampleRule) reach its Threshold, split into those
// dosguard blocks and those it exempts (private addresses unless
// Block_Private, and the Allowlist).
func tripped(c conf.Config, obs []observation) (blocked, exempt []string) {
	r := c.Rules[0]
	byKey := map[string][]time.Time{}
	for _, o := range obs {
		byKey[o.key] = append(byKey[o.key], o.at)
	}
	for key, ts := range byKey {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		peak := 0
		for lo, hi := 0, 0; hi < len(ts); hi++ {
			for ts[hi].Sub(ts[lo]) >= r.Window {
				lo++
			}
			peak = max(peak, hi-lo+1)
		}
		if peak < r.Threshold {
			continue
		}
		a, err := netip.ParseAddr(key)
		isExempt := err == nil && !c.BlockPrivate &&
			(a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified())
		for _, p := range c.Allowlist {
			if err == nil && p.Contains(a.Unmap()) {
				isExempt = true
			}
		}
		if isExempt {
			exempt = append(exempt, key)
		} else {
			blocked = append(blocked, key)
		}
	}
	sort.Strings(blocked)
	sort.Strings(exempt)
	return blocked, exempt
}

// TestSamplesTripExactlyTheAttackers replays each demo config over the
// sample it tails, with the config's own Key, Window, Threshold and
// exemptions: the rule must trip on exactly the attackers planted in the
// sample, so that the README's demos show dosguard's main job.
func TestSamplesTripExactlyTheAttackers(t *testing.T) {
	apache := []string{"2001:db8::bad", "203.0.113.7"}
	want := map[string]struct{ blocked, exempt []string }{
		"fluent-bit.conf":                {apache, []string{"10.0.0.5"}},
		"fluent-bit.yaml":                {apache, []string{"10.0.0.5"}},
		"examples/nginx-cloudwatch.yaml": {apache, []string{"10.0.0.5"}},
		"image/dosguard.yaml":            {apache, []string{"10.0.0.5"}},
		"examples/honeypot.conf":         {[]string{"203.0.113.50"}, nil},
		"image/honeypot.yaml":            {[]string{"203.0.113.50"}, nil},
		"examples/alb.conf":              {[]string{"203.0.113.9"}, nil},
	}
	for _, file := range fluentBitConfigs(t) {
		t.Run(file, func(t *testing.T) {
			w, ok := want[file]
			if !ok {
				t.Fatalf("%s is not in this test's table: add what its sample should trip", file)
			}
			ctx := contextFor(t, file)
			f := loadConfig(t, file, ctx.env)
			cfgs := parseDosguardOutputs(t, file, f)
			for i, obs := range replay(t, file, ctx, f, cfgs) {
				if len(obs) == 0 {
					t.Fatalf("output %d observes nothing", i)
				}
				blocked, exempt := tripped(cfgs[i], obs)
				if !slices.Equal(blocked, w.blocked) || !slices.Equal(exempt, w.exempt) {
					t.Errorf("output %d: blocks %v and exempts %v, want %v and %v", i, blocked, exempt, w.blocked, w.exempt)
				}
				for _, o := range obs {
					if o.key == "192.0.2.1" {
						t.Fatalf("output %d counts the forged X-Forwarded-For entry 192.0.2.1", i)
					}
				}
			}
		})
	}
}

// TestSamplesReproducible regenerates the samples with samples/gen and
// compares them with the committed files byte for byte.
func TestSamplesReproducible(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "run", "./samples/gen", "-out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./samples/gen: %v\n%s", err, out)
	}
	gen, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(gen) != 3 {
		t.Fatalf("gen wrote %v, want 3 files", gen)
	}
	for _, g := range gen {
		got, _ := os.ReadFile(g)
		committed, err := os.ReadFile(filepath.Join("samples", filepath.Base(g)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, committed) {
			t.Errorf("samples/%s differs from what samples/gen writes: run (cd docker && go run ./samples/gen -out samples)", filepath.Base(g))
		}
	}
}
