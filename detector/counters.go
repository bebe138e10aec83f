package detector

import (
	"slices"

	"github.com/dosguard/dosguard/internal/prefetch"
)

// counters holds the ring of bucket counters of every entry: entry i owns
// counters [i*ring, (i+1)*ring). They are 16 bits wide until a counter
// would pass 65535; then all of them widen to 32 bits, once, for good. So a
// counter never saturates or wraps, and a table whose counts stay small (a
// bucket never holds more than the threshold: at that count the address
// fires and stops counting) pays 2 bytes a bucket instead of 4.
type counters struct {
	ring int
	c16  []uint16 // nil once wide
	c32  []uint32 // nil until wide
}

// get returns counter s of entry i.
func (c *counters) get(i uint32, s int) uint32 {
	if c.c32 != nil {
		return c.c32[int(i)*c.ring+s]
	}
	return uint32(c.c16[int(i)*c.ring+s])
}

// inc adds one to counter s of entry i.
func (c *counters) inc(i uint32, s int) {
	if c.c32 == nil {
		p := &c.c16[int(i)*c.ring+s]
		if *p < 0xffff {
			*p++
			return
		}
		c.widen()
	}
	c.c32[int(i)*c.ring+s]++
}

// dec takes one from counter s of entry i, which is not zero.
func (c *counters) dec(i uint32, s int) {
	if c.c32 != nil {
		c.c32[int(i)*c.ring+s]--
		return
	}
	c.c16[int(i)*c.ring+s]--
}

// drop zeroes n counters of entry i, n < ring, from counter s on and round
// the ring, and returns their sum: the buckets a ring moving on leaves
// behind.
func (c *counters) drop(i uint32, s, n int) uint32 {
	j := int(i) * c.ring
	if c.c32 != nil {
		return dropRing(c.c32[j:j+c.ring], s, n)
	}
	return dropRing(c.c16[j:j+c.ring], s, n)
}

// dropRing zeroes n counters of ring r from r[s] on, going round, and
// returns their sum.
func dropRing[T uint16 | uint32](r []T, s, n int) uint32 {
	var sum uint32
	for range n {
		sum += uint32(r[s])
		r[s] = 0
		if s++; s == len(r) {
			s = 0
		}
	}
	return sum
}

// zero zeroes the ring of entry i.
func (c *counters) zero(i uint32) {
	j := int(i) * c.ring
	if c.c32 != nil {
		clear(c.c32[j : j+c.ring])
		return
	}
	clear(c.c16[j : j+c.ring])
}

// push appends a zero ring for a new last entry.
func (c *counters) push() {
	if c.c32 != nil {
		n := len(c.c32)
		c.c32 = slices.Grow(c.c32, c.ring)[:n+c.ring]
		clear(c.c32[n:])
		return
	}
	n := len(c.c16)
	c.c16 = slices.Grow(c.c16, c.ring)[:n+c.ring]
	clear(c.c16[n:])
}

// pop drops the ring of the last entry, last, after moving it into entry i
// if i is not last.
func (c *counters) pop(i, last uint32) {
	d, s, n := int(i)*c.ring, int(last)*c.ring, c.ring
	if c.c32 != nil {
		copy(c.c32[d:d+n], c.c32[s:s+n])
		c.c32 = c.c32[:s]
		return
	}
	copy(c.c16[d:d+n], c.c16[s:s+n])
	c.c16 = c.c16[:s]
}

// widen turns the 16-bit counters into 32-bit ones.
func (c *counters) widen() {
	c.c32 = make([]uint32, len(c.c16), cap(c.c16))
	for j, v := range c.c16 {
		c.c32[j] = uint32(v)
	}
	c.c16 = nil
}

// wide reports whether the counters are 32 bits wide.
func (c *counters) wide() bool { return c.c32 != nil }

// prefetch starts loading the ring of entry i into the cache: both its
// ends, as a ring may straddle two cache lines.
func (c *counters) prefetch(i uint32) {
	j := int(i) * c.ring
	if c.c32 != nil {
		prefetch.At(&c.c32[j])
		prefetch.At(&c.c32[j+c.ring-1])
		return
	}
	prefetch.At(&c.c16[j])
	prefetch.At(&c.c16[j+c.ring-1])
}
