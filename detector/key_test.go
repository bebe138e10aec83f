package detector

import (
	"net/netip"
	"testing"
	"time"
)

// TestKeyOf checks the table's key against As16, its definition: an IPv4
// address and its IPv4-mapped form are one key, zones are dropped, and
// addr gives the address back, IPv4 unmapped.
func TestKeyOf(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "198.51.100.9", "255.255.255.255", "::ffff:198.51.100.9",
		"::", "::1", "2001:db8::1", "fe80::1%eth0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::198.51.100.9",
	} {
		a := netip.MustParseAddr(s)
		k := keyOf(a)
		b := a.As16()
		var want key
		for i := range 8 {
			want.hi = want.hi<<8 | uint64(b[i])
			want.lo = want.lo<<8 | uint64(b[8+i])
		}
		if k != want {
			t.Errorf("keyOf(%s) = %#x, want %#x (As16)", s, k, want)
		}
		if got, want := k.addr(), a.Unmap().WithZone(""); got != want {
			t.Errorf("keyOf(%s).addr() = %s, want %s", s, got, want)
		}
	}
	if keyOf(netip.MustParseAddr("198.51.100.9")) != keyOf(netip.MustParseAddr("::ffff:198.51.100.9")) {
		t.Error("an IPv4 address and its mapped form are two keys")
	}
}

// TestObserveHitOnlyWhenFired checks that Observe leaves *hit alone for a
// record that does not fire and writes ObserveAt's Hit for the one that
// does.
func TestObserveHitOnlyWhenFired(t *testing.T) {
	d := newDetector(t, Config{Window: time.Minute, Threshold: 2})
	a := netip.MustParseAddr("198.51.100.9")
	mark := Hit{Count: -1}
	hit := mark
	if d.Observe(t0, a, 0, &hit) || hit != mark {
		t.Fatalf("first record: fired or wrote %+v", hit)
	}
	if !d.Observe(t0.Add(time.Second), a, 0, &hit) {
		t.Fatal("second record did not fire")
	}
	want := Hit{Addr: a, Count: 2, Window: time.Minute, First: t0, Last: t0.Add(time.Second)}
	if hit != want {
		t.Errorf("Hit = %+v\nwant  %+v", hit, want)
	}
}
