//go:build ignore

// gen writes the input logs of the rule fixtures under detector/testdata.
// Run from that folder: go run gen.go
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

type rec struct {
	t      time.Time
	host   string
	method string
	path   string
	code   int
	auth   string
	xff    string
	peer   string
}

func apache(r rec) string {
	return fmt.Sprintf(`%s - - [%s] "%s %s HTTP/1.1" %d 512 "-" "Mozilla/5.0"`,
		r.host, r.t.Format("02/Jan/2006:15:04:05 -0700"), r.method, r.path, r.code)
}

func jsonl(r rec) string {
	s := fmt.Sprintf(`{"time":%q,"host":%q,"method":%q,"path":%q,"code":%d`,
		r.t.Format(time.RFC3339Nano), r.host, r.method, r.path, r.code)
	if r.auth != "" {
		s += fmt.Sprintf(`,"auth":%q`, r.auth)
	}
	if r.xff != "" {
		s += fmt.Sprintf(`,"x_forwarded_for":%q`, r.xff)
	}
	if r.peer != "" {
		s += fmt.Sprintf(`,"remote_addr":%q`, r.peer)
	}
	return s + "}"
}

func write(dir, name string, recs []rec, f func(rec) string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(f(r))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		panic(err)
	}
}

// sortByTime merges streams by time (stable), as a log file is.
func sortByTime(rs []rec) []rec {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].t.Before(rs[j-1].t); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	return rs
}

func spread(host string, n int, start time.Time, span time.Duration, mk func(i int) rec) []rec {
	out := make([]rec, n)
	for i := range out {
		r := mk(i)
		r.host = host
		r.t = start.Add(time.Duration(int64(span) * int64(i) / int64(n)))
		out[i] = r
	}
	return out
}

func get(i int) rec { return rec{method: "GET", path: fmt.Sprintf("/item/%d", i%50), code: 200} }

func main() {
	// flood: the article's first query. 203.0.113.7 sends 1000 requests in
	// one clock minute; 203.0.113.8 sends 999; 40 normal clients.
	var flood []rec
	flood = append(flood, spread("203.0.113.7", 1000, t0.Add(2*time.Minute), 50*time.Second, get)...)
	flood = append(flood, spread("203.0.113.8", 999, t0.Add(4*time.Minute), 55*time.Second, get)...)
	for i := 1; i <= 40; i++ {
		flood = append(flood, spread(fmt.Sprintf("198.51.100.%d", i), 20, t0, 9*time.Minute, get)...)
	}
	flood = sortByTime(flood)
	write("norikra_flood_apache", "input.log", flood, apache)
	write("norikra_flood_json", "input.jsonl", flood, jsonl)

	// login: the article's second query. 60 failed logins in one clock
	// minute from 203.0.113.20; 59 from 203.0.113.21; successes don't count.
	post := func(auth string) func(int) rec {
		return func(int) rec { return rec{method: "POST", path: "/login", code: 401, auth: auth} }
	}
	var login []rec
	login = append(login, spread("203.0.113.20", 60, t0.Add(time.Minute), 40*time.Second, post("failed"))...)
	login = append(login, spread("203.0.113.20", 200, t0.Add(time.Minute), 40*time.Second, post("ok"))...)
	login = append(login, spread("203.0.113.21", 59, t0.Add(3*time.Minute), 40*time.Second, post("failed"))...)
	for i := 1; i <= 10; i++ {
		login = append(login, spread(fmt.Sprintf("198.51.100.%d", i), 30, t0, 5*time.Minute, get)...)
	}
	login = sortByTime(login)
	write("norikra_login_json", "input.jsonl", login, jsonl)
	// In an Apache log the failure is the 401 status: same attack, the
	// successes logged as 200.
	for i := range login {
		if login[i].auth == "ok" {
			login[i].code = 200
		}
	}
	write("norikra_login_apache", "input.log", login, apache)

	// straddle: 600 requests in the last 30 s of 10:05 and 600 in the
	// first 30 s of 10:06.
	var str []rec
	str = append(str, spread("203.0.113.30", 600, t0.Add(5*time.Minute+30*time.Second), 30*time.Second, get)...)
	str = append(str, spread("203.0.113.30", 600, t0.Add(6*time.Minute), 30*time.Second, get)...)
	write("straddle_minute", "input.log", str, apache)

	// several rules on one stream: a flood, a brute force and a scanner.
	var multi []rec
	multi = append(multi, spread("203.0.113.40", 700, t0.Add(time.Minute), 40*time.Second, get)...)
	multi = append(multi, spread("203.0.113.41", 25, t0.Add(2*time.Minute), 20*time.Second, post("failed"))...)
	multi = append(multi, spread("203.0.113.42", 120, t0.Add(3*time.Minute), 60*time.Second, func(i int) rec {
		return rec{method: "GET", path: fmt.Sprintf("/scan/%d.php", i), code: 404}
	})...)
	multi = append(multi, spread("203.0.113.43", 300, t0, 5*time.Minute, get)...) // busy but fine
	multi = sortByTime(multi)
	write("multi_rules", "input.jsonl", multi, jsonl)

	// behind an ALB: the client is the rightmost untrusted X-Forwarded-For
	// entry. 203.0.113.50 floods and forges a left entry naming an innocent
	// 192.0.2.99; requests without the header fall back to the peer.
	alb := "10.0.1.17"
	xff := func(chain string) func(int) rec {
		return func(int) rec { return rec{method: "GET", path: "/", code: 200, xff: chain, peer: alb} }
	}
	var behind []rec
	behind = append(behind, spread("-", 150, t0, 30*time.Second, xff("192.0.2.99, 203.0.113.50"))...)
	behind = append(behind, spread("-", 40, t0, 30*time.Second, xff("198.51.100.7"))...)
	behind = append(behind, spread("-", 150, t0.Add(time.Minute), 30*time.Second, func(int) rec {
		return rec{method: "GET", path: "/", code: 200, peer: "203.0.113.51"}
	})...)
	behind = append(behind, spread("-", 150, t0.Add(2*time.Minute), 30*time.Second, xff("garbage, 10.0.1.9"))...)
	behind = sortByTime(behind)
	write("alb_xff", "input.jsonl", behind, jsonl)
}
