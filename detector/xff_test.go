package detector

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/dosguard/dosguard/chunk"
)

// albTrusted is a VPC behind an ALB: the ALB's nodes and every proxy sit in
// 10.0.0.0/16, plus an IPv6 range and one CDN edge range.
var albTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/16"),
	netip.MustParsePrefix("2600:1f18:aaaa::/56"),
	netip.MustParsePrefix("::ffff:198.51.100.0/120"), // mapped: 198.51.100.0/24
}

func mustProxies(t testing.TB, prefixes []netip.Prefix) *Proxies {
	t.Helper()
	p, err := NewProxies(prefixes)
	if err != nil {
		t.Fatalf("NewProxies(%v): %v", prefixes, err)
	}
	return p
}

func TestClientAddr(t *testing.T) {
	tests := []struct {
		name    string
		xff     string
		trusted bool // albTrusted, else none
		want    string
		wantErr error
	}{
		// What ALB writes: the client's own header, then the peer appended.
		{"plain address", "203.0.113.7", true, "203.0.113.7", nil},
		{"plain address, no proxies", "203.0.113.7", false, "203.0.113.7", nil},
		{"forged left entry is never the client", "1.1.1.1, 203.0.113.7", true, "203.0.113.7", nil},
		{"forged left entry, no proxies: the appended peer", "1.1.1.1, 203.0.113.7", false, "203.0.113.7", nil},
		{"forged trusted-looking entries left of the client", "10.0.0.9, 1.1.1.1,203.0.113.7", true, "203.0.113.7", nil},
		{"several trusted hops", "1.1.1.1, 203.0.113.7, 198.51.100.20, 10.0.3.4", true, "203.0.113.7", nil},
		{"several trusted hops, no proxies: the last hop", "203.0.113.7, 198.51.100.20, 10.0.3.4", false, "10.0.3.4", nil},
		{"all trusted", "10.0.1.1, 10.0.2.2", true, "", ErrAllTrusted},
		{"single trusted", "10.0.1.1", true, "", ErrAllTrusted},
		{"IPv6 client behind IPv6 proxy", "2001:db8::bad, 2001:db8::7, 2600:1f18:aaaa:1::5", true, "2001:db8::7", nil},
		{"IPv4-mapped client is IPv4", "::ffff:203.0.113.7, 10.0.0.1", true, "203.0.113.7", nil},
		{"IPv4-mapped proxy is trusted", "203.0.113.7, ::ffff:10.0.0.1", true, "203.0.113.7", nil},
		{"garbage left of the client is ignored", "<script>, unknown, 203.0.113.7", true, "203.0.113.7", nil},
		{"garbage where the client is: invalid, never further left", "1.1.1.1, unknown, 10.0.0.1", true, "", ErrNotAddress},
		{"garbage rightmost: invalid", "203.0.113.7, bogus", false, "", ErrNotAddress},
		{"prefix where the client is", "203.0.113.0/24, 10.0.0.1", true, "", ErrPrefix},
		{"zone where the client is", "fe80::1%eth0, 10.0.0.1", true, "", ErrZone},
		{"too long entry", strings.Repeat("1", 65) + ", 10.0.0.1", true, "", ErrTooLong},
		{"long chain, client near the right", strings.Repeat("1.1.1.1, ", 500) + "203.0.113.7, 10.0.0.1", true, "203.0.113.7", nil},
		{"IPv4 with port", "1.1.1.1:80, 203.0.113.7:5678, 10.0.0.1:443", true, "203.0.113.7", nil},
		{"IPv6 with port", "[2001:db8::7]:443, [2600:1f18:aaaa::1]:8080", true, "2001:db8::7", nil},
		{"IPv6 in brackets", "[2001:db8::7]", false, "2001:db8::7", nil},
		{"unbracketed IPv6 is never split", "2001:db8::1:443", false, "2001:db8::1:443", nil},
		{"IPv4 in brackets", "[203.0.113.7]:80", false, "", ErrNotAddress},
		{"port out of range", "203.0.113.7:65536", false, "", ErrPort},
		{"port 65535", "203.0.113.7:65535", false, "203.0.113.7", nil},
		{"unbalanced bracket", "[2001:db8::7:443", false, "", ErrNotAddress},
		{"spaces optional", "1.1.1.1,203.0.113.7,10.0.0.1", true, "203.0.113.7", nil},
		{"tabs and spaces", " \t1.1.1.1 ,\t203.0.113.7 \t, 10.0.0.1 ", true, "203.0.113.7", nil},
		{"empty entry left of the client is ignored", "1.1.1.1,,203.0.113.7", true, "203.0.113.7", nil},
		{"empty entry where the client is", "203.0.113.7,,10.0.0.1", true, "", ErrEmptyEntry},
		{"trailing comma", "203.0.113.7,", false, "", ErrEmptyEntry},
		{"leading comma", ",203.0.113.7", false, "203.0.113.7", nil},
		{"only a comma", ",", false, "", ErrEmptyEntry},
		{"empty", "", true, "", ErrEmpty},
		{"blank", " \t ", true, "", ErrEmpty},
	}
	trusted := mustProxies(t, albTrusted)
	for _, tt := range tests {
		var p *Proxies
		if tt.trusted {
			p = trusted
		}
		got, err := ClientAddr([]byte(tt.xff), p)
		var want netip.Addr
		if tt.want != "" {
			want = netip.MustParseAddr(tt.want)
		}
		if got != want || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: ClientAddr(%.60q, trusted=%v) = %v, %v; want %v, %v", tt.name, tt.xff, tt.trusted, got, err, want, tt.wantErr)
		}
	}
}

func TestProxies(t *testing.T) {
	p := mustProxies(t, albTrusted)
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"10.0.255.255", true},
		{"10.1.0.0", false},
		{"::ffff:10.0.0.1", true},
		{"198.51.100.9", true},
		{"2600:1f18:aaaa:ff::1", true},
		{"2600:1f18:aaaa:100::1", false},
		{"fe80::1%eth0", false},
	} {
		if got := p.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	var none *Proxies
	if none.Contains(netip.MustParseAddr("10.0.0.1")) || !none.Empty() || p.Empty() {
		t.Errorf("nil Proxies: Contains = true or Empty = false, or albTrusted Empty")
	}
	if _, err := NewProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}); err == nil ||
		err.Error() != `detector: trusted proxy 1 "invalid Prefix": invalid prefix` {
		t.Errorf("NewProxies with a zero prefix: error %v, want one naming entry 1", err)
	}
}

// record encodes a record body with string fields; a value "<nil>" is
// encoded as nil, "<int>" as the number 7.
func record(kv ...string) []byte {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		switch kv[i+1] {
		case "<nil>":
			m[kv[i]] = nil
		case "<int>":
			m[kv[i]] = 7
		default:
			m[kv[i]] = kv[i+1]
		}
	}
	return chunk.AppendValue(nil, m)
}

func TestExtract(t *testing.T) {
	xff := chunk.Path{"x_forwarded_for"}
	peer := chunk.Path{"remote_addr"}
	tests := []struct {
		name    string
		spec    KeySpec
		body    []byte
		want    string
		wantErr error
	}{
		{"ALB: header, trusted peer", KeySpec{xff, peer, albTrusted},
			record("x_forwarded_for", "1.1.1.1, 203.0.113.7", "remote_addr", "10.0.1.5"), "203.0.113.7", nil},
		{"ALB: header through two trusted hops", KeySpec{xff, peer, albTrusted},
			record("x_forwarded_for", "203.0.113.7, 10.0.9.9", "remote_addr", "10.0.1.5"), "203.0.113.7", nil},
		{"untrusted peer: forged header ignored", KeySpec{xff, peer, albTrusted},
			record("x_forwarded_for", "1.1.1.1", "remote_addr", "203.0.113.7"), "203.0.113.7", nil},
		{"missing header, untrusted peer", KeySpec{xff, peer, albTrusted},
			record("remote_addr", "203.0.113.7"), "203.0.113.7", nil},
		{"missing header, trusted peer: unknown client", KeySpec{xff, peer, albTrusted},
			record("remote_addr", "10.0.1.5"), "", ErrAllTrusted},
		{"header of trusted hops only", KeySpec{xff, peer, albTrusted},
			record("x_forwarded_for", "10.0.3.3", "remote_addr", "10.0.1.5"), "", ErrAllTrusted},
		{`"-" header is missing`, KeySpec{xff, peer, albTrusted},
			record("x_forwarded_for", "-", "remote_addr", "203.0.113.7"), "203.0.113.7", nil},
		{`"-" header, no proxies: the peer`, KeySpec{xff, peer, nil},
			record("x_forwarded_for", " - ", "remote_addr", "203.0.113.7"), "203.0.113.7", nil},
		{"nil header is missing", KeySpec{xff, peer, nil},
			record("x_forwarded_for", "<nil>", "remote_addr", "203.0.113.7"), "203.0.113.7", nil},
		{"blank header is missing", KeySpec{xff, peer, nil},
			record("x_forwarded_for", "  ", "remote_addr", "203.0.113.7"), "203.0.113.7", nil},
		{"no proxies: the header's rightmost entry, peer unchecked", KeySpec{xff, peer, nil},
			record("x_forwarded_for", "1.1.1.1, 203.0.113.7", "remote_addr", "10.0.1.5"), "203.0.113.7", nil},
		{"no proxies, garbage peer unused", KeySpec{xff, peer, nil},
			record("x_forwarded_for", "203.0.113.7", "remote_addr", "unix:"), "203.0.113.7", nil},
		{"proxies, garbage peer: unchecked path is invalid", KeySpec{xff, peer, albTrusted},
			record("x_forwarded_for", "203.0.113.7", "remote_addr", "unix:"), "", ErrNotAddress},
		{"peer with a port is not a plain address", KeySpec{xff, peer, nil},
			record("remote_addr", "203.0.113.7:5678"), "", ErrPort},
		{"no fallback, header missing", KeySpec{xff, nil, albTrusted},
			record("remote_addr", "203.0.113.7"), "", ErrMissing},
		{"fallback set, both missing", KeySpec{xff, peer, albTrusted},
			record("host", "203.0.113.7"), "", ErrMissing},
		{"header not a string", KeySpec{xff, peer, nil},
			record("x_forwarded_for", "<int>"), "", ErrNotAddress},
		{"plain key field, no fallback (as before)", KeySpec{chunk.Path{"host"}, nil, nil},
			record("host", "54.199.254.150"), "54.199.254.150", nil},
		{"plain key field that is a trusted proxy", KeySpec{chunk.Path{"host"}, nil, albTrusted},
			record("host", "10.0.0.1"), "", ErrAllTrusted},
		{"nested field", KeySpec{chunk.Path{"http", "xff"}, nil, albTrusted},
			chunk.AppendValue(nil, map[string]any{"http": map[string]any{"xff": "2001:db8::7, 2600:1f18:aaaa::1"}}), "2001:db8::7", nil},
	}
	for _, tt := range tests {
		k, err := NewKeyExtractor(tt.spec)
		if err != nil {
			t.Fatalf("%s: NewKeyExtractor: %v", tt.name, err)
		}
		got, err := k.Extract(tt.body)
		var want netip.Addr
		if tt.want != "" {
			want = netip.MustParseAddr(tt.want)
		}
		if got != want || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Extract = %v, %v; want %v, %v", tt.name, got, err, want, tt.wantErr)
		}
	}
}

func TestNewKeyExtractorErrors(t *testing.T) {
	for _, tt := range []struct {
		spec KeySpec
		want string
	}{
		{KeySpec{}, "detector: key spec: Field is empty"},
		{KeySpec{Field: chunk.Path{"xff"}, Trusted: []netip.Prefix{{}}},
			`detector: key spec $xff: detector: trusted proxy 0 "invalid Prefix": invalid prefix`},
	} {
		if _, err := NewKeyExtractor(tt.spec); err == nil || err.Error() != tt.want {
			t.Errorf("NewKeyExtractor(%+v) error = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

func TestClientAddrAllocs(t *testing.T) {
	trusted := mustProxies(t, albTrusted)
	for _, in := range []string{"1.1.1.1, 203.0.113.7, 10.0.0.1", "[2001:db8::7]:443, 10.0.0.1", "garbage, 10.0.0.1", "10.0.0.1", ""} {
		b := []byte(in)
		if n := testing.AllocsPerRun(100, func() { _, _ = ClientAddr(b, trusted) }); n != 0 {
			t.Errorf("ClientAddr(%q) allocates %v times, want 0", in, n)
		}
	}
	k, err := NewKeyExtractor(KeySpec{chunk.Path{"x_forwarded_for"}, chunk.Path{"remote_addr"}, albTrusted})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{
		record("x_forwarded_for", "1.1.1.1, 203.0.113.7", "remote_addr", "10.0.1.5"),
		record("remote_addr", "10.0.1.5"),
		record("host", "x"),
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = k.Extract(body) }); n != 0 {
			t.Errorf("Extract allocates %v times, want 0", n)
		}
	}
}

// refClientAddr is ClientAddr written plainly with the standard library, for
// the fuzz target.
func refClientAddr(xff string, trusted []netip.Prefix) (netip.Addr, bool) {
	if strings.Trim(xff, " \t\r\n") == "" {
		return netip.Addr{}, false
	}
	entries := strings.Split(xff, ",")
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := refHop(entries[i])
		if !ok {
			return netip.Addr{}, false
		}
		inTrusted := false
		for _, p := range trusted {
			if normPrefix(p).Contains(a) {
				inTrusted = true
			}
		}
		if !inTrusted {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func refHop(e string) (netip.Addr, bool) {
	e = strings.Trim(e, " \t\r\n")
	if len(e) > MaxAddrLen {
		return netip.Addr{}, false
	}
	host := e
	if strings.HasPrefix(e, "[") {
		end := strings.Index(e, "]")
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := e[end+1:]; rest != "" {
			port, ok := strings.CutPrefix(rest, ":")
			if n, err := strconv.ParseUint(port, 10, 16); !ok || err != nil || len(port) > 5 || n > 65535 || strings.Trim(port, "0123456789") != "" {
				return netip.Addr{}, false
			}
		}
		host = e[1:end]
		if !strings.Contains(host, ":") {
			return netip.Addr{}, false
		}
	} else if i := strings.LastIndex(e, ":"); i >= 0 && strings.Count(e, ":") == 1 {
		port := e[i+1:]
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || len(port) > 5 || n > 65535 || strings.Trim(port, "0123456789") != "" {
			return netip.Addr{}, false
		}
		host = e[:i]
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// FuzzClientAddr checks ClientAddr against refClientAddr, a plain
// reimplementation: same answer, and an answer is always an entry of the
// chain that no trusted prefix contains. It never panics.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{
		"203.0.113.7", "1.1.1.1, 203.0.113.7", "1.1.1.1, 203.0.113.7, 10.0.0.1",
		"10.0.0.1, 10.0.0.2", "garbage, 10.0.0.1", "1.1.1.1,,10.0.0.1", ",",
		"[2001:db8::7]:443, [2600:1f18:aaaa::1]:80", "::ffff:10.0.0.1", "1.2.3.4:65536",
		"fe80::1%eth0, 10.0.0.1", "2001:db8::1:443", " \t", "",
	} {
		f.Add(s)
	}
	trusted := mustProxies(f, albTrusted)
	f.Fuzz(func(t *testing.T, xff string) {
		b := []byte(xff)
		got, err := ClientAddr(b, trusted)
		want, ok := refClientAddr(xff, albTrusted)
		if (err == nil) != ok || got != want {
			t.Fatalf("ClientAddr(%q) = %v, %v; reference %v, %v", xff, got, err, want, ok)
		}
		if err != nil {
			if got.IsValid() {
				t.Fatalf("ClientAddr(%q) = %v with error %v", xff, got, err)
			}
			return
		}
		// The reference returns the parse of one entry of the chain, so
		// got is one; it must also be a plain address nobody trusts.
		if trusted.Contains(got) || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientAddr(%q) = %v: trusted, zoned or mapped", xff, got)
		}
		if string(b) != xff {
			t.Fatalf("ClientAddr modified its input %q to %q", xff, b)
		}
	})
}

func BenchmarkClientAddr(b *testing.B) {
	trusted := mustProxies(b, albTrusted)
	for _, bm := range []struct{ name, in string }{
		{"plain", "203.0.113.195"},
		{"alb-forged", "1.1.1.1, 203.0.113.195"},
		{"three-hops", "1.1.1.1, 203.0.113.195, 198.51.100.20, 10.0.3.4"},
		{"v6-port", "[2001:db8:85a3::8a2e:370:7334]:443, [2600:1f18:aaaa::1]:80"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			in := []byte(bm.in)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ClientAddr(in, trusted); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkExtract(b *testing.B) {
	k, err := NewKeyExtractor(KeySpec{chunk.Path{"x_forwarded_for"}, chunk.Path{"remote_addr"}, albTrusted})
	if err != nil {
		b.Fatal(err)
	}
	// A typical access-log record: the key fields among others.
	body := chunk.AppendValue(nil, map[string]any{
		"remote_addr": "10.0.1.5", "method": "GET", "path": "/index.html", "code": "200",
		"size": "5124", "referer": "-", "agent": "Mozilla/5.0 (X11; Linux x86_64)",
		"x_forwarded_for": "1.1.1.1, 203.0.113.195",
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Extract(body); err != nil {
			b.Fatal(err)
		}
	}
}
