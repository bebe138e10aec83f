package detector

import (
	"net/netip"
	"testing"
	"time"
)

// TestShareAddsRemoteCount: two instances of a rule at 10 each count 6 of
// an address; neither fires alone. Once each knows the other's count
// (Drain, SetRemote), the next record fires with the global count.
func TestShareAddsRemoteCount(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("203.0.113.7")
	var dets [2]*Detector
	for i := range dets {
		d, err := New(Config{Window: time.Minute, Threshold: 10})
		if err != nil {
			t.Fatal(err)
		}
		d.Share(100, 0)
		for j := 0; j < 6; j++ {
			if _, fired := d.ObserveAt(t0.Add(time.Duration(j)*time.Second), a); fired {
				t.Fatalf("instance %d fired alone at %d", i, j+1)
			}
		}
		dets[i] = d
	}
	var deltas [2][]Delta
	for i, d := range dets {
		deltas[i] = d.Drain(nil)
		if len(deltas[i]) != 1 || deltas[i][0].Addr != a || deltas[i][0].Local != 6 || deltas[i][0].Counts[0]+deltas[i][0].Counts[1] != 6 {
			t.Fatalf("instance %d drained %+v, want 6 counts of %v, local 6", i, deltas[i], a)
		}
	}
	dets[0].SetRemote(a, 6)
	h, fired := dets[0].ObserveAt(t0.Add(7*time.Second), a)
	if !fired || h.Count != 13 {
		t.Fatalf("with the remote count: fired %v count %d, want fired at 13", fired, h.Count)
	}
	// An address idle for a round loses its remote count.
	if again := dets[1].Drain(nil); len(again) != 0 {
		t.Fatalf("second drain %+v, want nothing", again)
	}
	dets[1].SetRemote(a, 6)
	if _, fired := dets[1].ObserveAt(t0.Add(8*time.Second), a); fired {
		t.Fatal("a remote count set for an address not drained was kept")
	}
}

// TestShareKeepsIdleRemote: rounds more frequent than an address's records
// keep its remote count for keep Drains.
func TestShareKeepsIdleRemote(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("203.0.113.8")
	d, err := New(Config{Window: time.Minute, Threshold: 10})
	if err != nil {
		t.Fatal(err)
	}
	d.Share(100, 2)
	d.ObserveAt(t0, a)
	d.Drain(nil)
	d.SetRemote(a, 7)
	for i := 0; i < 2; i++ { // two idle rounds: nothing to send, remote kept
		if got := d.Drain(nil); len(got) != 0 {
			t.Fatalf("idle drain %d sent %+v", i, got)
		}
	}
	if h, fired := d.ObserveAt(t0.Add(time.Second), a); fired || d.CountAt(t0.Add(time.Second), a) != 2 {
		t.Fatalf("fired %v %+v at 2+7", fired, h)
	}
	d.Drain(nil)
	d.SetRemote(a, 8)
	for i := 0; i < 3; i++ { // a third idle round: forgotten
		d.Drain(nil)
	}
	if _, fired := d.ObserveAt(t0.Add(2*time.Second), a); fired {
		t.Fatal("fired on a remote count kept beyond keep drains")
	}
	d.Drain(nil)
	d.SetRemote(a, 7)
	if h, fired := d.ObserveAt(t0.Add(3*time.Second), a); !fired || h.Count != 11 {
		t.Fatalf("fired %v count %d, want 4+7", fired, h.Count)
	}
}

// TestShareBoundsPending: beyond the bound, new addresses are counted only
// locally.
func TestShareBoundsPending(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	d, err := New(Config{Window: time.Minute, Threshold: 100})
	if err != nil {
		t.Fatal(err)
	}
	d.Share(2, 0)
	for i := 1; i <= 5; i++ {
		d.ObserveAt(t0, netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}))
	}
	if got := d.Drain(nil); len(got) != 2 || d.SharedDropped() != 3 {
		t.Fatalf("drained %d, dropped %d; want 2 and 3", len(got), d.SharedDropped())
	}
}

// TestShareBuckets: counts keep their bucket; a third bucket folds into
// the older one.
func TestShareBuckets(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("2001:db8::1")
	d, err := New(Config{Window: time.Minute, Threshold: 100, Buckets: 6})
	if err != nil {
		t.Fatal(err)
	}
	d.Share(10, 0)
	w := d.BucketWidth()
	b0 := t0.UnixNano() / int64(w)
	for _, step := range []struct {
		at      time.Duration
		buckets [2]int64
		counts  [2]uint32
	}{
		{0, [2]int64{b0, b0}, [2]uint32{0, 1}},
		{w, [2]int64{b0, b0 + 1}, [2]uint32{1, 1}},
		{2 * w, [2]int64{b0, b0 + 2}, [2]uint32{2, 1}},
		{w, [2]int64{b0, b0 + 2}, [2]uint32{3, 1}},
	} {
		d.ObserveAt(t0.Add(step.at), a)
		s := d.share.peers[0]
		if s.bucket != step.buckets || s.n != step.counts {
			t.Fatalf("after a record at +%v: buckets %v counts %v, want %v %v", step.at, s.bucket, s.n, step.buckets, step.counts)
		}
	}
	got := d.Drain(nil)
	if len(got) != 1 || got[0].Head != b0+2 || got[0].Local != 4 || got[0].Addr != a {
		t.Fatalf("drain %+v", got)
	}
}
