package detector

import (
	"math"
	"net/netip"
	"time"
)

// Shared counting: several instances each count their own share of an
// address's requests; a caller (the shared package) sums them elsewhere.
// With Share, the Detector remembers, per address, what it counted since the
// last Drain (per bucket, at most two buckets apart: the newest and one
// older, older counts folded into it) and adds to the address's own count
// the other instances' count last given by SetRemote when it checks the
// threshold. An address that counts nothing keeps its remote count for a
// few Drains (Share's keep), so rounds more frequent than its records do
// not lose it. The Detector stays local: nothing here waits or calls out.

// Delta is what one address counted since the last Drain.
type Delta struct {
	// Addr is the address; IPv4-mapped addresses are reported as IPv4.
	Addr netip.Addr
	// Buckets and Counts are the buckets (see Detector.Bucket) and the
	// counts added to them; a zero count is unused.
	Buckets [2]int64
	Counts  [2]uint32
	// Head is the newest bucket counted in; Local is the Detector's own
	// windowed count as a record in Head sees it (CountAt).
	Head  int64
	Local int
}

// peer is one address's shared side: pending counts and the remote count.
type peer struct {
	key    key
	bucket [2]int64 // [0] older, [1] newest
	n      [2]uint32
	remote uint32
	idle   int // Drains since it last counted
}

// sharing is the shared side of a Detector: the addresses counted since
// the last Drain (index into peers), bounded by max.
type sharing struct {
	index   map[key]int32
	peers   []peer
	max     int
	keep    int
	dropped int64
}

// Share turns shared counting on: from now on the Detector keeps what each
// address counts until Drain, for at most maxPending addresses (a new
// address beyond that is counted locally only, and in SharedDropped). An
// address that counted nothing keeps its remote count for keep Drains.
// Call it once, before counting.
func (d *Detector) Share(maxPending, keep int) {
	d.share = &sharing{index: make(map[key]int32), max: max(1, maxPending), keep: max(keep, 0)}
}

// shared records one count of k in bucket tick and returns the remote count
// of k; 0 without Share. Called by observe when the count grew.
func (d *Detector) shared(k key, tick int64) uint32 {
	s := d.share
	if s == nil {
		return 0
	}
	j, ok := s.index[k]
	if !ok {
		if len(s.peers) >= s.max {
			s.dropped++
			return 0
		}
		j = int32(len(s.peers))
		s.peers = append(s.peers, peer{key: k, bucket: [2]int64{tick, tick}})
		s.index[k] = j
	}
	p := &s.peers[j]
	switch {
	case p.n[1] == 0 || tick == p.bucket[1]:
		p.bucket[1] = tick
		p.n[1]++
	case tick > p.bucket[1]: // a newer bucket: the newest becomes the older
		if p.n[0] == 0 {
			p.bucket[0] = p.bucket[1]
		}
		p.n[0] += p.n[1]
		p.bucket[1], p.n[1] = tick, 1
	default: // older than the newest: into the older one
		if p.n[0] == 0 {
			p.bucket[0] = tick
		}
		p.n[0]++
	}
	return p.remote
}

// Drain appends to buf what each address counted since the last Drain and
// forgets it. An address that counted nothing since is forgotten, unless
// it has a remote count and has been idle for at most Share's keep Drains
// (at most half of maxPending such addresses are kept). It does not
// allocate beyond buf's growth.
func (d *Detector) Drain(buf []Delta) []Delta {
	s := d.share
	if s == nil {
		return buf
	}
	clear(s.index)
	keep := s.peers[:0]
	idle := 0
	for _, p := range s.peers {
		if p.n[0]+p.n[1] == 0 {
			// Worth keeping only if others count it too, and never more
			// than half the bound: new addresses always find room.
			if p.idle++; p.remote > 0 && p.idle <= s.keep && idle < s.max/2 {
				s.index[p.key] = int32(len(keep))
				keep = append(keep, p)
				idle++
			}
			continue
		}
		p.idle = 0
		a := p.key.addr()
		head := p.bucket[1]
		buf = append(buf, Delta{
			Addr: a, Buckets: p.bucket, Counts: p.n, Head: head,
			Local: d.CountAt(time.Unix(0, head*d.width), a),
		})
		p.n = [2]uint32{}
		s.index[p.key] = int32(len(keep))
		keep = append(keep, p)
	}
	s.peers = keep
	return buf
}

// SetRemote sets the other instances' windowed count of a, added to its own
// count at its next record. An address Drain no longer holds is ignored.
func (d *Detector) SetRemote(a netip.Addr, remote int) {
	s := d.share
	if s == nil || !a.IsValid() {
		return
	}
	if j, ok := s.index[keyOf(a)]; ok {
		s.peers[j].remote = uint32(min(max(remote, 0), math.MaxInt32))
	}
}

// SharedDropped is the number of counts not kept for syncing because
// Share's bound was reached.
func (d *Detector) SharedDropped() int64 {
	if d.share == nil {
		return 0
	}
	return d.share.dropped
}

// BucketWidth is the width of a bucket: Window/Buckets for a sliding
// window, Window for a tumbling one. Bucket b covers
// [b*BucketWidth, (b+1)*BucketWidth) of Unix time.
func (d *Detector) BucketWidth() time.Duration { return time.Duration(d.width) }
