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

// BenchmarkParseV4 parses 65,536 client addresses in turn: fields of one to
// three digits at random, as client addresses have, and, for comparison,
// fields of three digits only. The set is larger than the CPU's branch
// predictor can learn: over the 1,024 addresses this benchmark once cycled
// through, the random fields cost as little as the fixed ones (9 ns), which
// hid the price of the digit-count branches that a real log's tens of
// thousands of clients pay (8 to 15 ns more, BENCHMARKS.md).
func BenchmarkParseV4(b *testing.B) {
	for _, shape := range []string{"random", "three-digit"} {
		b.Run("fields="+shape, func(b *testing.B) {
			const n = 1 << 16
			r := rand.New(rand.NewPCG(1, 2))
			var text []byte
			ends := make([]int, n)
			for i := range n {
				var f [4]byte
				for j := range f {
					if shape == "random" {
						f[j] = byte(r.Uint32())
					} else {
						f[j] = byte(100 + r.IntN(156))
					}
				}
				text = netip.AddrFrom4(f).AppendTo(text)
				ends[i] = len(text)
			}
			b.ReportAllocs()
			i, start := 0, 0
			for b.Loop() {
				end := ends[i]
				if _, ok := parseV4(text[start:end]); !ok {
					b.Fatal("rejected")
				}
				if i, start = i+1, end; i == n {
					i, start = 0, 0
				}
			}
		})
	}
}
