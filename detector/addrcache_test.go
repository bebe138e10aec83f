package detector

import (
	"errors"
	"net/netip"
	"strconv"
	"testing"

	"github.com/dosguard/dosguard/chunk"
)

// cacheBodies are records whose key fields cover every verdict: plain and
// forwarded addresses, trusted hops, the peer fallback, missing and non-string
// fields, invalid, exempt and allowlisted addresses, and keys too long to be
// remembered.
func cacheBodies() [][]byte {
	body := func(kv ...any) []byte {
		b := chunk.AppendMapHeader(nil, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			b = chunk.AppendStr(b, kv[i].(string))
			b = chunk.AppendValue(b, kv[i+1])
		}
		return b
	}
	var bodies [][]byte
	for _, xff := range []any{
		"203.0.113.7", "1.1.1.1, 203.0.113.7", "203.0.113.7, 10.0.3.4", "10.0.1.1, 10.0.2.2",
		"2001:db8::7", "::ffff:203.0.113.7", "[2001:db8::7]:443", "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
		"192.0.2.5", "127.0.0.1", "172.16.0.1", "unknown", "-", "", " 203.0.113.7 ", "203.0.113.0/24",
		"198.51.100.1, 198.51.100.2, 198.51.100.3, 203.0.113.7", 42, nil,
	} {
		for _, peer := range []any{nil, "10.0.0.5", "203.0.113.99", "garbage", 7} {
			kv := []any{"xff", xff}
			if peer != nil {
				kv = append(kv, "peer", peer)
			}
			bodies = append(bodies, body(kv...))
		}
		bodies = append(bodies, body("peer", xff))
	}
	return bodies
}

// verdict is what Extract and then Exempt say about body, the reference
// AddrCache must agree with.
func verdict(x *KeyExtractor, ex *Exemptions, body []byte) (netip.Addr, Verdict) {
	a, err := x.Extract(body)
	switch {
	case errors.Is(err, ErrMissing):
		return netip.Addr{}, Missing
	case err != nil:
		return netip.Addr{}, Invalid
	}
	if _, e := ex.Exempt(a); e {
		return netip.Addr{}, Exempted
	}
	return a, Counted
}

// TestAddrCacheAgreesWithExtract resolves every body three times, in an
// order that mixes hits and misses, with and without a fallback and trusted
// proxies, and compares each answer with Extract and Exempt.
func TestAddrCacheAgreesWithExtract(t *testing.T) {
	var allow []netip.Prefix
	for i := range cheapAllowlist + 1 { // enough to make a plain key worth caching
		allow = append(allow, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32))
	}
	allow = append(allow, netip.MustParsePrefix("192.0.2.0/24"))
	ex, err := NewExemptions(ExemptionsConfig{Allowlist: allow})
	if err != nil {
		t.Fatal(err)
	}
	bodies := cacheBodies()
	for _, spec := range []KeySpec{
		{Field: chunk.Path{"xff"}},
		{Field: chunk.Path{"xff"}, Trusted: albTrusted},
		{Field: chunk.Path{"xff"}, Fallback: chunk.Path{"peer"}},
		{Field: chunk.Path{"xff"}, Fallback: chunk.Path{"peer"}, Trusted: albTrusted},
	} {
		x, err := NewKeyExtractor(spec)
		if err != nil {
			t.Fatal(err)
		}
		c := NewAddrCache(x, ex)
		if c.slots == nil {
			t.Fatalf("%+v: no table with %d allowlist prefixes", spec, len(allow))
		}
		seen := map[Verdict]int{}
		for round := range 3 {
			for i := range bodies {
				j := (i * (round + 1) * 7) % len(bodies)
				a, v := c.Resolve(bodies[j])
				wa, wv := verdict(x, ex, bodies[j])
				if a != wa || v != wv {
					t.Fatalf("%+v: body %d round %d: Resolve = %v, %d; Extract+Exempt = %v, %d", spec, j, round, a, v, wa, wv)
				}
				seen[v]++
			}
		}
		if spec.Fallback != nil && len(seen) != 4 {
			t.Errorf("%+v: verdicts seen %v, want all four", spec, seen)
		}
	}
}

// TestAddrCacheEviction sends more distinct clients than the cache has
// slots, twice over: every answer stays right when slots are taken over.
func TestAddrCacheEviction(t *testing.T) {
	x, err := NewKeyExtractor(KeySpec{Field: chunk.Path{"host"}})
	if err != nil {
		t.Fatal(err)
	}
	c := NewAddrCache(x, mustAllow(t, cheapAllowlist+1))
	for round := range 2 {
		for i := range 3 * AddrCacheSlots {
			host := "198." + strconv.Itoa(18+i>>16) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
			body := chunk.AppendStr(chunk.AppendStr(chunk.AppendMapHeader(nil, 1), "host"), host)
			a, v := c.Resolve(body)
			if v != Counted || a != netip.MustParseAddr(host) {
				t.Fatalf("round %d: Resolve(%s) = %v, %d", round, host, a, v)
			}
		}
	}
}

func TestAddrCacheAllocs(t *testing.T) {
	x, err := NewKeyExtractor(KeySpec{Field: chunk.Path{"xff"}, Fallback: chunk.Path{"peer"}, Trusted: albTrusted})
	if err != nil {
		t.Fatal(err)
	}
	c := NewAddrCache(x, &Exemptions{})
	bodies := cacheBodies()
	if n := testing.AllocsPerRun(10, func() {
		for _, b := range bodies {
			c.Resolve(b)
		}
	}); n != 0 {
		t.Errorf("Resolve: %v allocations, want 0", n)
	}
}

// BenchmarkAddrCache compares a record's key through Extract and Exempt
// (20 allowlist prefixes, an X-Forwarded-For chain of two hops and a peer
// field) with the same through an AddrCache that has seen it, and with a
// cache that has not (every key new).
func BenchmarkAddrCache(b *testing.B) {
	ex := allow20(b)
	x, err := NewKeyExtractor(KeySpec{Field: chunk.Path{"xff"}, Fallback: chunk.Path{"peer"}, Trusted: albTrusted})
	if err != nil {
		b.Fatal(err)
	}
	body := func(i int) []byte {
		b := chunk.AppendMapHeader(nil, 3)
		b = chunk.AppendStr(chunk.AppendStr(b, "peer"), "10.0.1.2")
		b = chunk.AppendStr(chunk.AppendStr(b, "xff"), "54.199."+strconv.Itoa(i>>8&255)+"."+strconv.Itoa(i&255)+", 10.0.0.9")
		return chunk.AppendStr(chunk.AppendStr(b, "path"), "/index.html")
	}
	one := body(1)
	many := make([][]byte, 4*AddrCacheSlots)
	for i := range many {
		many[i] = body(i)
	}
	b.Run("extract+exempt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			verdict(x, ex, one)
		}
	})
	b.Run("cache-hit", func(b *testing.B) {
		c := NewAddrCache(x, ex)
		b.ReportAllocs()
		for b.Loop() {
			c.Resolve(one)
		}
	})
	b.Run("cache-miss", func(b *testing.B) {
		c := NewAddrCache(x, ex)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			c.Resolve(many[i%len(many)])
			i++
		}
	})
}

// mustAllow returns Exemptions with n allowlisted /32s in 192.0.2.0/24.
func mustAllow(t testing.TB, n int) *Exemptions {
	t.Helper()
	var allow []netip.Prefix
	for i := range n {
		allow = append(allow, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32))
	}
	ex, err := NewExemptions(ExemptionsConfig{Allowlist: allow})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestAddrCachePlainKey: a plain key with a short allowlist is resolved
// every time, without a table.
func TestAddrCachePlainKey(t *testing.T) {
	x, err := NewKeyExtractor(KeySpec{Field: chunk.Path{"host"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := NewAddrCache(x, mustAllow(t, cheapAllowlist)); c.slots != nil {
		t.Errorf("plain key, %d prefixes: a table of %d slots, want none", cheapAllowlist, len(c.slots))
	}
	if c := NewAddrCache(x, mustAllow(t, cheapAllowlist+1)); c.slots == nil {
		t.Errorf("plain key, %d prefixes: no table", cheapAllowlist+1)
	}
}

// TestAddrCacheFastPath holds the plain key's IPv4 shortcut (parseV4 and
// exempt4, no table) to Extract and Exempt: every body of cacheBodies,
// bare addresses near the edges of the exempt ranges, and strings parseV4
// must refuse (leading zeros, ports, blanks), with the default exemptions,
// BlockPrivate, and a short allowlist.
func TestAddrCacheFastPath(t *testing.T) {
	bodies := cacheBodies()
	for _, s := range []string{"0.0.0.0", "0.255.255.255", "1.0.0.0", "9.255.255.255", "10.0.0.0", "11.0.0.0",
		"100.63.255.255", "100.64.0.0", "100.127.255.255", "100.128.0.0", "126.255.255.255", "127.0.0.1", "128.0.0.0",
		"169.253.255.255", "169.254.0.1", "169.255.0.0", "172.15.255.255", "172.16.0.0", "172.31.255.255", "172.32.0.0",
		"192.167.255.255", "192.168.0.0", "192.169.0.0", "223.255.255.255", "224.0.0.0", "239.255.255.255", "240.0.0.0",
		"255.255.255.254", "255.255.255.255", "198.51.100.7", "198.51.100.8",
		"010.1.1.1", "1.2.3.4:80", "1.2.3.4 ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.4,5.6.7.8", "1.2.3.-"} {
		b := chunk.AppendMapHeader(nil, 1)
		b = chunk.AppendStr(b, "xff")
		bodies = append(bodies, chunk.AppendStr(b, s))
	}
	x, err := NewKeyExtractor(KeySpec{Field: chunk.Path{"xff"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []ExemptionsConfig{
		{},
		{BlockPrivate: true},
		{Allowlist: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("2001:db8::/32")}},
	} {
		ex, err := NewExemptions(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := NewAddrCache(x, ex)
		if c.slots != nil {
			t.Fatalf("%+v: a table for a plain key", cfg)
		}
		seen := map[Verdict]int{}
		for j, body := range bodies {
			a, v := c.Resolve(body)
			wa, wv := verdict(x, ex, body)
			if a != wa || v != wv {
				t.Fatalf("%+v: body %d: Resolve = %v, %d; Extract+Exempt = %v, %d", cfg, j, a, v, wa, wv)
			}
			seen[v]++
		}
		if len(seen) != 4 {
			t.Errorf("%+v: verdicts seen %v, want all four", cfg, seen)
		}
	}
}
