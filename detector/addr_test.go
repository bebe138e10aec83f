package detector

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in      string
		want    string // netip text of the result; "" when an error is wanted
		wantErr error
	}{
		{in: "1.2.3.4", want: "1.2.3.4"},
		{in: "0.0.0.0", want: "0.0.0.0"},
		{in: "255.255.255.255", want: "255.255.255.255"},
		{in: "  54.199.254.150\t", want: "54.199.254.150"},
		{in: "10.0.0.1\r\n", want: "10.0.0.1"},
		{in: "::", want: "::"},
		{in: "::1", want: "::1"},
		{in: "2001:db8::1", want: "2001:db8::1"},
		{in: "2001:DB8:0:0:0:0:0:1", want: "2001:db8::1"},
		{in: "2001:0db8:0000:0000:0000:0000:0000:0001", want: "2001:db8::1"},
		{in: "1::", want: "1::"},
		{in: "1:2:3:4:5:6:7:8", want: "1:2:3:4:5:6:7:8"},
		{in: "::ffff:1.2.3.4", want: "1.2.3.4"},       // mapped: unmapped
		{in: "::FFFF:c000:0280", want: "192.0.2.128"}, // mapped, hex spelling
		{in: "64:ff9b::192.0.2.33", want: "64:ff9b::c000:221"},
		{in: "::1.2.3.4", want: "::102:304"},
		{in: "0:0:0:0:0:ffff:255.255.255.255", want: "255.255.255.255"},

		{in: "", wantErr: ErrEmpty},
		{in: "   ", wantErr: ErrEmpty},
		{in: strings.Repeat("1", MaxAddrLen+1), wantErr: ErrTooLong},
		{in: strings.Repeat(" ", 60) + "1.2.3.4", wantErr: ErrTooLong}, // spaces count
		{in: strings.Repeat("a", 1<<20), wantErr: ErrTooLong},
		{in: "0.0.0.0/0", wantErr: ErrPrefix},
		{in: "1.2.3.0/24", wantErr: ErrPrefix},
		{in: "::/0", wantErr: ErrPrefix},
		{in: "2001:db8::/32", wantErr: ErrPrefix},
		{in: "1.2.3.4:80", wantErr: ErrPort},
		{in: "[::1]:443", wantErr: ErrPort},
		{in: "[1.2.3.4]:80", wantErr: ErrPort},
		{in: "fe80::1%eth0", wantErr: ErrZone},
		{in: "fe80::1%", wantErr: ErrZone},
		{in: "[::1]", wantErr: ErrNotAddress},
		{in: "[::1", wantErr: ErrNotAddress},
		{in: "-", wantErr: ErrNotAddress},
		{in: "localhost", wantErr: ErrNotAddress},
		{in: "GET /index.html", wantErr: ErrNotAddress},
		{in: "1.2.3.4 5.6.7.8", wantErr: ErrNotAddress},
		{in: "1.2.3.4, 5.6.7.8", wantErr: ErrNotAddress},
		{in: "1.2.3", wantErr: ErrNotAddress},
		{in: "1.2.3.4.5", wantErr: ErrNotAddress},
		{in: "1.2.3.256", wantErr: ErrNotAddress},
		{in: "01.2.3.4", wantErr: ErrNotAddress}, // leading zero: octal in some parsers
		{in: "1.2.3.", wantErr: ErrNotAddress},
		{in: ".1.2.3", wantErr: ErrNotAddress},
		{in: "1..2.3", wantErr: ErrNotAddress},
		{in: "1.2.3.4:", wantErr: ErrNotAddress},
		{in: "1.2.3.4:123456", wantErr: ErrNotAddress},
		{in: "1.2.3.4/", wantErr: ErrPrefix},
		{in: "junk/24", wantErr: ErrNotAddress},
		{in: ":::", wantErr: ErrNotAddress},
		{in: "1::2::3", wantErr: ErrNotAddress},
		{in: "1:2:3:4:5:6:7:8:9", wantErr: ErrNotAddress},
		{in: "1:2:3:4:5:6:7::8", wantErr: ErrNotAddress}, // :: stands for no group
		{in: "12345::", wantErr: ErrNotAddress},
		{in: ":1", wantErr: ErrNotAddress},
		{in: "1:", wantErr: ErrNotAddress},
		{in: "1:2:3:4:5:6:1.2.3.4:8", wantErr: ErrNotAddress},
		{in: "1:2:3:4:5:6:7:1.2.3.4", wantErr: ErrNotAddress},
		{in: "::ffff:1.2.3", wantErr: ErrNotAddress},
		{in: "g::1", wantErr: ErrNotAddress},
		{in: "1.2.3.4\x00", wantErr: ErrNotAddress},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		got, err := ParseAddr([]byte(tt.in))
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseAddr(%q) = %v, %v; want error %v", name, got, err, tt.wantErr)
			}
			if got.IsValid() {
				t.Errorf("ParseAddr(%q) returned address %v with an error", name, got)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseAddr(%q) = %v, %v; want %s, nil", name, got, err, tt.want)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Errorf("ParseAddr(%q) = %v: zoned or mapped result", name, got)
		}
	}
}

// TestParseAddrDoesNotRetain overwrites the input after parsing: the result
// must not change.
func TestParseAddrDoesNotRetain(t *testing.T) {
	b := []byte("2001:db8::7")
	a, err := ParseAddr(b)
	if err != nil {
		t.Fatal(err)
	}
	copy(b, "fe80::1:2:3")
	if a.String() != "2001:db8::7" {
		t.Errorf("after overwriting input, result = %v, want 2001:db8::7", a)
	}
}

func TestParseAddrAllocs(t *testing.T) {
	for _, in := range []string{"192.0.2.1", " 2001:db8::1 ", "::ffff:1.2.3.4", "garbage", "1.2.3.4:80", "1:2:3::x", "fe80::1%eth0", "0.0.0.0/0"} {
		b := []byte(in)
		if n := testing.AllocsPerRun(100, func() { _, _ = ParseAddr(b) }); n != 0 {
			t.Errorf("ParseAddr(%q) allocates %v times, want 0", in, n)
		}
	}
}

// FuzzParseAddr checks ParseAddr against netip.ParseAddr: on success the
// result is the single address netip parses from the trimmed input (unmapped,
// zoneless); and every zoneless address netip accepts, ParseAddr accepts.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{
		"1.2.3.4", " 10.0.0.1 ", "::", "::1", "2001:db8::1", "::ffff:1.2.3.4",
		"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "fe80::1%eth0", "0.0.0.0/0",
		"1.2.3.4:80", "[::1]", "[::1]:80", "01.2.3.4", "1::2::3", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := string(b) // copy before ParseAddr sees b
		got, err := ParseAddr(b)
		trimmed := strings.Trim(in, " \t\r\n")
		want, wantErr := netip.ParseAddr(trimmed)
		if err != nil {
			if got.IsValid() {
				t.Fatalf("ParseAddr(%q) = %v, %v: address with error", in, got, err)
			}
			if wantErr == nil && want.Zone() == "" && len(in) <= MaxAddrLen {
				t.Fatalf("ParseAddr(%q) = %v; netip.ParseAddr(%q) = %v", in, err, trimmed, want)
			}
			return
		}
		if len(in) > MaxAddrLen {
			t.Fatalf("ParseAddr accepted %d bytes", len(in))
		}
		if wantErr != nil {
			t.Fatalf("ParseAddr(%q) = %v; netip.ParseAddr(%q) = %v", in, got, trimmed, wantErr)
		}
		if got != want.Unmap() || got.Zone() != "" || !netip.PrefixFrom(got, got.BitLen()).IsSingleIP() {
			t.Fatalf("ParseAddr(%q) = %v, want single address %v", in, got, want.Unmap())
		}
	})
}

func BenchmarkParseAddr(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"v4", "203.0.113.195"},
		{"v6", "2001:db8:85a3::8a2e:370:7334"},
		{"mapped", "::ffff:203.0.113.195"},
		{"invalid", "-"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			in := []byte(bm.in)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = ParseAddr(in)
			}
		})
	}
}
