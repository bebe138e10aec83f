package detector

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
)

// v4Want is what parseV4 must say of s: netip.ParseAddr's verdict on
// dotted-quad IPv4.
func v4Want(s string) ([4]byte, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return [4]byte{}, false
	}
	return a.As4(), true
}

func checkV4(t *testing.T, s string) {
	t.Helper()
	want, wantOK := v4Want(s)
	got, ok := parseV4([]byte(s))
	if ok != wantOK || ok && got != want {
		t.Fatalf("parseV4(%q) = %v, %v; netip says %v, %v", s, got, ok, want, wantOK)
	}
}

// TestParseV4 holds parseV4 to netip.ParseAddr on every combination of
// field texts at the edges (lengths 0 to 4, leading zeros, 255 and 256),
// on the shapes around the length limits, and on random strings of digits
// and dots with the odd other byte.
func TestParseV4(t *testing.T) {
	fields := []string{"", "0", "1", "9", "00", "01", "10", "99", "000", "001", "010", "100", "199",
		"200", "249", "250", "255", "256", "260", "300", "999", "1000", "0255", "2555", "a", "1a", " 1", "-1"}
	valid := 0
	for _, a := range fields {
		for _, b := range fields {
			for _, c := range fields {
				for _, d := range fields {
					s := a + "." + b + "." + c + "." + d
					checkV4(t, s)
					if _, ok := v4Want(s); ok {
						valid++
					}
				}
			}
		}
	}
	if valid == 0 {
		t.Fatal("no valid address among the combinations")
	}
	for _, s := range []string{"", "1", "1.2.3", "1.2.3.4.", ".1.2.3.4", "1..2.3", "1.2.3.4.5", "1.2.3.4 ",
		"1.2.3.4\x00", "1.2.3.\xb4", "1.2.3.4/8", "1.2.3.4:80", "::1.2.3.4", "255.255.255.2555",
		"255.255.255.255.", "1.2.3.4\n", "1,2,3,4", "1.2.3.:", "1.2.3./", "\x80.2.3.4", "1.2.3.\xb9"} {
		checkV4(t, s)
	}
	r := rand.New(rand.NewPCG(4, 4))
	const alphabet = "0123456789........0125:/ \x00\xae\xb0"
	buf := make([]byte, 0, 18)
	for range 100_000 {
		buf = buf[:0]
		for range r.IntN(18) {
			if r.IntN(4) == 0 {
				buf = append(buf, alphabet[r.IntN(len(alphabet))])
			} else {
				buf = append(buf, alphabet[r.IntN(10)])
			}
		}
		checkV4(t, string(buf))
		// and a well-formed address, often
		s := strconv.Itoa(r.IntN(300)) + "." + strconv.Itoa(r.IntN(300)) + "." + strconv.Itoa(r.IntN(300)) + "." + strconv.Itoa(r.IntN(300))
		checkV4(t, s)
	}
}

// BenchmarkParseV4 parses addresses whose fields have one to three digits
// at random, as client addresses do.
func BenchmarkParseV4(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	addrs := make([][]byte, 1024)
	for i := range addrs {
		addrs[i] = []byte(netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32() >> 3), byte(r.Uint32() >> 9), byte(r.Uint32())}).String())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := parseV4(addrs[i&1023]); !ok {
			b.Fatal("rejected")
		}
		i++
	}
}
