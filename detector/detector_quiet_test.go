package detector

import (
	"net/netip"
	"testing"
	"time"
)

// quietSet is a Quieter a test edits: the addresses in it are quiet.
type quietSet map[netip.Addr]bool

func (q quietSet) Quiet(a netip.Addr) bool { return q[a] }

// TestQuieterDecides: an address that fired stays quiet exactly while the
// Quieter says so, then counts again from zero.
func TestQuieterDecides(t *testing.T) {
	q := quietSet{}
	d := newDetector(t, Config{Window: time.Minute, Threshold: 3, Quiet: q})
	a := netip.MustParseAddr(a4)
	run(t, d, []step{
		{op: observe, at: 0, addr: a4},
		{op: observe, at: 1 * time.Second, addr: a4},
		{op: observe, at: 2 * time.Second, addr: a4, hit: true, n: 3},
	})
	q[a] = true // the guard marks it pending, then banned
	run(t, d, []step{
		{op: observe, at: 3 * time.Second, addr: a4},
		{op: quiet, addr: a4, hit: true},
		{op: sweep, at: time.Hour, n: 0}, // quiet: kept
	})
	delete(q, a) // the ban ended
	run(t, d, []step{
		{op: quiet, addr: a4, hit: false},
		{op: observe, at: time.Hour + 1*time.Second, addr: a4}, // counts from zero: 1
		{op: count, at: time.Hour + 1*time.Second, addr: a4, n: 1},
		{op: observe, at: time.Hour + 2*time.Second, addr: a4},
		{op: observe, at: time.Hour + 3*time.Second, addr: a4, hit: true, n: 3},
	})
	if st := d.Stats(); st.Fired != 2 || st.Quiet != 1 {
		t.Errorf("Stats() = %+v, want Fired 2, Quiet 1", st)
	}
}

// TestQuieterFreesTheTable: fired addresses the Quieter lets go are swept
// and evicted like any other; quiet ones are not.
func TestQuieterFreesTheTable(t *testing.T) {
	q := quietSet{}
	d := newDetector(t, Config{Window: time.Minute, Threshold: 1, MaxKeys: 2, Quiet: q})
	run(t, d, []step{
		{op: observe, at: 0, addr: a4, hit: true, n: 1},
		{op: observe, at: 0, addr: b4, hit: true, n: 1},
	})
	q[netip.MustParseAddr(a4)] = true
	run(t, d, []step{
		{op: observe, at: time.Second, addr: a6, hit: true, n: 1}, // evicts b4, no longer quiet
		{op: quiet, addr: a4, hit: true},
		{op: count, at: time.Second, addr: b4, n: 0},
		{op: sweep, at: time.Hour, n: 1}, // a6 (not quiet) goes, a4 stays
		{op: quiet, addr: a4, hit: true},
	})
	if st := d.Stats(); st.Evicted != 1 || st.Dropped != 0 || st.Tracked != 1 {
		t.Errorf("Stats() = %+v, want Evicted 1, Dropped 0, Tracked 1", st)
	}
}
