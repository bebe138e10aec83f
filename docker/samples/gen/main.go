// Command gen writes the sample logs under docker/samples, each with an
// attack in it, for the demo configs, the image and the tests:
//
//   - apache_access.log: Apache combined format, 21/Nov/2026 10:00-10:10
//     UTC. About 40 ordinary clients send fewer than 30 requests each over
//     the ten minutes; 203.0.113.7 floods 1500 requests in 50 s from 10:03;
//     2001:db8::bad sends 1200 in 40 s from 10:06; the private 10.0.0.5 (an
//     internal health checker) sends 1100 in 55 s from 10:01 and must never
//     be blocked.
//   - wowhoneypot.jsonl: WOWHoneypot JSON lines behind an ALB, 2026-11-22
//     04:00-04:10 +0900, in the real program's format (fields time,
//     clientip, hostname, path, version, method, header, payload; header
//     with LF line ends and a final blank line; payload base64). clientip
//     is always one of the ALB's private addresses; the client is the
//     rightmost X-Forwarded-For entry of all the header's X-Forwarded-For
//     lines joined. 203.0.113.50 floods 250 requests in 25 s from 04:04 and
//     forges 192.0.2.1, the address it wants blocked: as the leftmost entry,
//     and in every fifth request as an X-Forwarded-For line of its own
//     before the one the ALB appended to.
//   - alb_access.log: an ALB access log excerpt in which 203.0.113.9 sends
//     40 requests in 10 s among a few ordinary clients, one of them IPv6.
//
// The files are a pure function of this code (fixed seed, fixed clock), so
// running it again reproduces the committed files byte for byte:
//
//	cd docker && go run ./samples/gen -out samples
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	out := flag.String("out", "samples", "directory to write the samples into")
	flag.Parse()
	for name, lines := range map[string][]string{
		"apache_access.log": apacheLog(),
		"wowhoneypot.jsonl": honeypotLog(),
		"alb_access.log":    albLog(),
	} {
		if err := writeLines(filepath.Join(*out, name), lines); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}

func writeLines(path string, lines []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// event is one log line and when it happened; lines are sorted by time
// (stable, so equal times keep the order they were generated in).
type event struct {
	at   time.Time
	line string
}

func sorted(evs []event) []string {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.line
	}
	return out
}

// burst spreads n events evenly over d starting at start.
func burst(start time.Time, d time.Duration, n int, line func(i int, at time.Time) string) []event {
	evs := make([]event, n)
	for i := range evs {
		at := start.Add(d * time.Duration(i) / time.Duration(n))
		evs[i] = event{at, line(i, at)}
	}
	return evs
}

var (
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	}
	pages = []string{"/", "/index.html", "/about", "/blog/2026/11/hello", "/contact", "/static/app.css", "/static/app.js", "/favicon.ico"}
)

func apacheLog() []string {
	rng := rand.New(rand.NewPCG(2026, 1121))
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	line := func(host string, at time.Time, method, path string, code, size int, ua string) string {
		return fmt.Sprintf(`%s - - [%s] "%s %s HTTP/1.1" %d %d "-" "%s"`,
			host, at.Format("02/Jan/2006:15:04:05 -0700"), method, path, code, size, ua)
	}
	var evs []event
	var clients []string
	for i := range 36 {
		if i%2 == 0 {
			clients = append(clients, fmt.Sprintf("198.51.100.%d", 10+i))
		} else {
			clients = append(clients, fmt.Sprintf("192.0.2.%d", 20+i))
		}
	}
	for i := range 4 {
		clients = append(clients, fmt.Sprintf("2001:db8:1::%x", 0x10+i))
	}
	for _, c := range clients {
		ua := userAgents[rng.IntN(len(userAgents))]
		for range 5 + rng.IntN(24) { // 5..28 requests in ten minutes
			at := start.Add(time.Duration(rng.IntN(600_000)) * time.Millisecond)
			p := pages[rng.IntN(len(pages))]
			code, size := 200, 512+rng.IntN(8000)
			if rng.IntN(10) == 0 {
				code, size = 304, 0
			}
			evs = append(evs, event{at, line(c, at, "GET", p, code, size, ua)})
		}
	}
	evs = append(evs, burst(start.Add(time.Minute), 55*time.Second, 1100, func(i int, at time.Time) string {
		return line("10.0.0.5", at, "GET", "/healthz", 200, 2, "kube-probe/1.34")
	})...)
	evs = append(evs, burst(start.Add(3*time.Minute), 50*time.Second, 1500, func(i int, at time.Time) string {
		if i%3 == 0 {
			return line("203.0.113.7", at, "POST", "/wp-login.php", 200, 4120, "python-requests/2.32.3")
		}
		return line("203.0.113.7", at, "GET", fmt.Sprintf("/?p=%d", i), 404, 196, "python-requests/2.32.3")
	})...)
	evs = append(evs, burst(start.Add(6*time.Minute), 40*time.Second, 1200, func(i int, at time.Time) string {
		return line("2001:db8::bad", at, "GET", "/search?q="+strings.Repeat("a", 1+i%7), 200, 731, "Go-http-client/1.1")
	})...)
	return sorted(evs)
}

// honeypotRecord is one WOWHoneypot JSON line, fields in the order the
// real program logs them (its Request object's attributes): header is the
// raw header text with LF line ends, ending in a blank line; payload is the
// body, base64-encoded; hostname is Host with HOST_PORT (8080) appended
// when Host has no port.
type honeypotRecord struct {
	Time     string `json:"time"`
	ClientIP string `json:"clientip"`
	Hostname string `json:"hostname"`
	Path     string `json:"path"`
	Version  string `json:"version"`
	Method   string `json:"method"`
	Header   string `json:"header"`
	Payload  string `json:"payload"`
}

func honeypotLog() []string {
	rng := rand.New(rand.NewPCG(2026, 1122))
	jst := time.FixedZone("JST", 9*60*60)
	start := time.Date(2026, 11, 22, 4, 0, 0, 0, jst)
	albs := []string{"10.0.1.23", "10.0.2.45"} // the ALB's nodes, one per subnet
	probes := []string{"/", "/robots.txt", "/.env", "/wp-login.php", "/phpmyadmin/", "/cgi-bin/luci/;stok=/locale", "/admin/config.php", "/.git/config", "/actuator/health", "/HNAP1/"}
	record := func(at time.Time, xff, method, path, ua, payload string) string {
		// xff holds one X-Forwarded-For value, or several (one per header
		// line) separated by "\n".
		var xffLines string
		for _, v := range strings.Split(xff, "\n") {
			xffLines += "X-Forwarded-For: " + v + "\n"
		}
		hdr := fmt.Sprintf("Host: honeypot.example.com\n%sX-Forwarded-Proto: http\nX-Forwarded-Port: 80\nX-Amzn-Trace-Id: Root=1-%08x-%012x%012x\nUser-Agent: %s\nAccept: */*\n",
			xffLines, at.Unix(), rng.Uint64()&0xffffffffffff, rng.Uint64()&0xffffffffffff, ua)
		if payload != "" {
			hdr += fmt.Sprintf("Content-Type: application/x-www-form-urlencoded\nContent-Length: %d\n", len(payload))
		}
		hdr += "\n" // the blank line that ends the header
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(honeypotRecord{
			Time:     at.Format("2006-01-02T15:04:05-0700"),
			ClientIP: albs[rng.IntN(len(albs))],
			Hostname: "honeypot.example.com:8080",
			Path:     path,
			Version:  "HTTP/1.1",
			Method:   method,
			Header:   hdr,
			Payload:  base64.StdEncoding.EncodeToString([]byte(payload)),
		}); err != nil {
			panic(err) // a struct of strings always encodes
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	var evs []event
	for i := range 28 {
		client := fmt.Sprintf("198.51.100.%d", 100+i)
		switch {
		case i%7 == 3:
			client = fmt.Sprintf("2001:db8:2::%x", 0x70+i)
		case i%5 == 4:
			// A client behind its own proxy: the ALB appends after it.
			client = fmt.Sprintf("172.16.0.%d, 198.51.100.%d", 10+i, 100+i)
		}
		ua := userAgents[rng.IntN(len(userAgents))]
		for range 1 + rng.IntN(8) {
			at := start.Add(time.Duration(rng.IntN(600)) * time.Second)
			evs = append(evs, event{at, record(at, client, "GET", probes[rng.IntN(len(probes))], ua, "")})
		}
	}
	evs = append(evs, burst(start.Add(4*time.Minute), 25*time.Second, 250, func(i int, at time.Time) string {
		xff := "192.0.2.1, 203.0.113.50" // forged leftmost entry, ALB-appended rightmost
		if i%5 == 1 {
			// A header line of the client's own before the one the ALB
			// appended to: the lines combine, the client is still the
			// rightmost entry of them all.
			xff = "192.0.2.1\n203.0.113.50"
		}
		if i%2 == 0 {
			return record(at, xff, "POST", "/wp-login.php", "Mozilla/5.0 (compatible; bruteforce/0.9)",
				fmt.Sprintf("log=admin&pwd=%06d&wp-submit=Log+In", i))
		}
		return record(at, xff, "GET", probes[i%len(probes)], "Mozilla/5.0 (compatible; bruteforce/0.9)", "")
	})...)
	return sorted(evs)
}

func albLog() []string {
	rng := rand.New(rand.NewPCG(2026, 1123))
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	const (
		elb = "app/k8s-honeypot-wowhoney-0a1b2c3d4e/50dc6c495c0c9188"
		tg  = "arn:aws:elasticloadbalancing:ap-northeast-1:111122223333:targetgroup/k8s-honeypot-wowhoney-0a1b2c3d4e/73e2d6bc24d8a067"
	)
	line := func(at time.Time, client string, status int, method, path, ua string) string {
		created := at.Add(-time.Duration(1+rng.IntN(3)) * time.Millisecond)
		return fmt.Sprintf(`http %s %s %s:%d 10.0.1.57:8000 0.000 0.00%d 0.000 %d %d %d %d "%s http://honeypot.example.com:80%s HTTP/1.1" "%s" - - %s "Root=1-%08x-%024x" "-" "-" 0 %s "forward" "-" "-" "10.0.1.57:8000" "%d" "-" "-" TID_%032x`,
			at.Format("2006-01-02T15:04:05.000000Z"), elb, client, 1024+rng.IntN(60000), 1+rng.IntN(9),
			status, status, 120+rng.IntN(400), 300+rng.IntN(4000), method, path, ua, tg,
			at.Unix(), rng.Uint64(), created.Format("2006-01-02T15:04:05.000000Z"), status, rng.Uint64())
	}
	var evs []event
	for i, c := range []string{"198.51.100.20", "198.51.100.21", "192.0.2.33", "2001:db8:3::44"} {
		for j := range 3 {
			at := start.Add(time.Duration(30+i*40+j*90) * time.Second)
			evs = append(evs, event{at, line(at, c, 200, "GET", pages[(i+j)%len(pages)], userAgents[i%len(userAgents)])})
		}
	}
	evs = append(evs, burst(start.Add(2*time.Minute), 10*time.Second, 40, func(i int, at time.Time) string {
		return line(at, "203.0.113.9", 404, "GET", fmt.Sprintf("/.env?%d", i), "zgrab/0.x")
	})...)
	return sorted(evs)
}
