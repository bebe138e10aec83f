package detector

import (
	"math/bits"
	"math/rand/v2"
)

// index maps an address to its entry number. It is an open-addressing hash
// table with linear probing over a power-of-two array of 8-byte slots, each
// holding the top 32 bits of the key's hash (which also give the slot the
// key belongs in) and the entry number plus one; 0 is a free slot. The key
// itself lives only in the entry, so a slot costs 8 bytes, kept between 3/8
// and 3/4 full: 11 to 21 bytes an address, against about 40 for a Go map
// of 16-byte keys to uint32. A probe compares the 32 hash bits before it reads
// an entry. Removal shifts the rest of the run back (no tombstones), so
// probes stay short however many addresses come and go.
//
// The hash mixes the key's two 64-bit halves with four random 64-bit
// seeds per Detector, by 128-bit multiplication (wyhash's mixing, which Go's
// own maps use where the CPU has no AES): without the seeds, addresses an
// attacker chooses (IPv6 gives them plenty) cannot be made to collide. It
// costs a few instructions, so that Detector.Prefetch costs next to nothing
// against the cache misses it saves.
type index struct {
	seed  [4]uint64
	slots []uint64
	shift uint // 64 - log2(len(slots))
	n     int  // occupied slots
}

// minIndexSlots is the size of a new index.
const minIndexSlots = 8

func newIndex() index {
	return index{
		seed:  [4]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64(), rand.Uint64()},
		slots: make([]uint64, minIndexSlots),
		shift: 64 - 3,
	}
}

// hash hashes key k.
func (x *index) hash(k key) uint64 {
	h := mix(k.hi^x.seed[0], k.lo^x.seed[1])
	return mix(h^x.seed[2], x.seed[3])
}

// mix folds the 128-bit product of a and b.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// home is the slot a hash, or a slot's stored top 32 bits shifted back up,
// belongs in.
func (x *index) home(h uint64) int {
	return int(h >> x.shift)
}

// find returns the number of the entry whose key is k, hashed to h.
func (x *index) find(k key, h uint64, entries []entry) (uint32, bool) {
	_, i, ok := x.lookup(k, h, entries)
	return i, ok
}

// lookup returns the slot holding k and its entry number, or false and the
// free slot ending k's run.
func (x *index) lookup(k key, h uint64, entries []entry) (pos int, i uint32, ok bool) {
	mask := len(x.slots) - 1
	for pos = x.home(h); ; pos = (pos + 1) & mask {
		if pos, ok = x.match(h, pos); !ok {
			return pos, 0, false
		}
		if i = uint32(x.slots[pos]) - 1; entries[i].key == k {
			return pos, i, true
		}
	}
}

// guess returns the number of the entry that is probably the one of the
// key hashed to h: the first in its run whose slot holds the same 32 hash
// bits. It reads only slots, not entries, so Detector.Prefetch can find
// which entry to load before it has any.
func (x *index) guess(h uint64) (uint32, bool) {
	pos, ok := x.match(h, x.home(h))
	return uint32(x.slots[pos]) - 1, ok
}

// match returns the first slot from pos on, in the run of h, that holds
// h's 32 hash bits, or false and the free slot ending the run.
func (x *index) match(h uint64, pos int) (int, bool) {
	tag := h >> 32
	mask := len(x.slots) - 1
	for ; ; pos = (pos + 1) & mask {
		s := x.slots[pos]
		if s == 0 {
			return pos, false
		}
		if s>>32 == tag {
			return pos, true
		}
	}
}

// add records that entry i has the key hashed to h, which is not in x.
func (x *index) add(h uint64, i uint32) {
	if 4*(x.n+1) > 3*len(x.slots) {
		x.grow()
	}
	mask := len(x.slots) - 1
	pos := x.home(h)
	for x.slots[pos] != 0 {
		pos = (pos + 1) & mask
	}
	x.slots[pos] = h>>32<<32 | uint64(i+1)
	x.n++
}

// set makes the slot of key k, hashed to h, name entry i.
func (x *index) set(k key, h uint64, i uint32, entries []entry) {
	if pos, _, ok := x.lookup(k, h, entries); ok {
		x.slots[pos] = x.slots[pos]>>32<<32 | uint64(i+1)
	}
}

// del removes key k, hashed to h, and moves back the slots after it in its
// run that may stand closer to their home.
func (x *index) del(k key, h uint64, entries []entry) {
	pos, _, ok := x.lookup(k, h, entries)
	if !ok {
		return
	}
	x.n--
	mask := len(x.slots) - 1
	for {
		x.slots[pos] = 0
		j := pos
		for {
			j = (j + 1) & mask
			s := x.slots[j]
			if s == 0 {
				return
			}
			// The slot at j may move to pos if pos lies between its home
			// and j, going round.
			if (j-x.home(s>>32<<32))&mask >= (j-pos)&mask {
				x.slots[pos] = s
				pos = j
				break
			}
		}
	}
}

// grow doubles the slots and places every key again, from the hash bits
// its slot holds.
func (x *index) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	x.shift--
	mask := len(x.slots) - 1
	for _, s := range old {
		if s == 0 {
			continue
		}
		pos := x.home(s >> 32 << 32)
		for x.slots[pos] != 0 {
			pos = (pos + 1) & mask
		}
		x.slots[pos] = s
	}
}
