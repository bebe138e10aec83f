package detector

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"

	"github.com/dosguard/dosguard/chunk"
)

// Verdict is what a record's key fields come to for counting.
type Verdict uint8

// The verdicts of AddrCache.Resolve.
const (
	// Counted: the address is to be counted.
	Counted Verdict = iota
	// Missing: the record has no key field (ErrMissing).
	Missing
	// Invalid: the key is not a usable address (any other Extract error).
	Invalid
	// Exempted: the address is exempt (Exemptions.Exempt).
	Exempted
)

// AddrCacheSlots is the number of results an AddrCache remembers: 16,384
// slots of 64 bytes, 1 MiB.
const AddrCacheSlots = 1 << 14

// cacheRaw is the room in a slot for the key fields' bytes: any IPv4 or
// IPv6 address, or a forwarded chain of two IPv4 hops. Longer keys are
// resolved every time.
const cacheRaw = 35

// cacheSlot is one remembered result: 64 bytes, one cache line.
type cacheSlot struct {
	h       uint64 // hash of the key, bit 0 set; 0 for a free slot
	addr    [16]byte
	flags   uint8 // which fields were present, and strings (see keyFlags)
	np, nf  uint8 // bytes of raw holding the peer, then the field
	verdict Verdict
	is4     bool
	raw     [cacheRaw]byte
}

// AddrCache remembers what a KeyExtractor and Exemptions made of the raw
// bytes of a record's key fields: a verdict, and the address to count.
// Parsing the address, resolving a forwarded chain and checking the
// allowlist depend only on those bytes, so a client seen again costs a hash
// and a compare instead. It is a direct-mapped table of AddrCacheSlots
// results, a fixed 1 MiB whatever the traffic: a new key takes its slot
// from whatever was there. Hits are checked byte for byte, never by hash
// alone, so a collision can only cost a miss.
//
// A key that is one plain address field (no fallback field, no trusted
// proxies) checked against at most cheapAllowlist allowlist prefixes
// resolves in a few tens of nanoseconds: less than a lookup that, with tens
// of thousands of clients, misses the CPU cache. For it the AddrCache keeps
// no table and resolves every time. A plain field holding a bare IPv4
// address, the common case, takes a shortcut whatever the allowlist:
// parseV4 and exempt4 on the address as an integer, about 15 ns.
//
// An AddrCache is not safe for concurrent use.
type AddrCache struct {
	x     *KeyExtractor
	ex    *Exemptions
	seed  [3]uint64
	slots []cacheSlot // nil: resolve every time
}

// cheapAllowlist is the longest allowlist a plain key is resolved with
// every time.
const cheapAllowlist = 4

// NewAddrCache returns an empty cache in front of x and ex.
func NewAddrCache(x *KeyExtractor, ex *Exemptions) *AddrCache {
	c := &AddrCache{x: x, ex: ex}
	if !x.plain() || len(ex.allow4)+len(ex.allow6) > cheapAllowlist {
		c.seed = [3]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64()}
		c.slots = make([]cacheSlot, AddrCacheSlots)
	}
	return c
}

// Resolve returns the verdict on body's key fields and, when it is
// Counted, the address: what Extract and then Exempt would say, the error
// ErrMissing giving Missing and any other error Invalid. It does not
// allocate and does not retain body.
func (c *AddrCache) Resolve(body []byte) (netip.Addr, Verdict) {
	if c.x.plain() {
		b, f := chunk.LookupStr(body, c.x.field)
		if f == chunk.FieldStr {
			// The common case, a bare IPv4 address: nothing but digits
			// and dots, so ClientAddr would read it as parseV4 does. It
			// costs less than any table lookup.
			if ip, ok := parseV4(b); ok {
				if _, ex := c.ex.exempt4(ip); ex {
					return netip.Addr{}, Exempted
				}
				return netip.AddrFrom4(ip), Counted
			}
		}
		var r rawKey
		r.field, r.hasField, r.fieldErr = fieldOf(b, f)
		return c.cached(&r)
	}
	var r rawKey
	c.x.read(body, &r)
	return c.cached(&r)
}

// cached is the verdict on r, from the cache when it holds r's bytes.
func (c *AddrCache) cached(r *rawKey) (netip.Addr, Verdict) {
	flags := keyFlags(r)
	np, nf := len(r.peer), len(r.field)
	if c.slots == nil || np+nf > cacheRaw {
		return c.resolve(r)
	}
	h := (mixBytes(r.peer, c.seed[0]) ^ mixBytes(r.field, c.seed[1]) ^ uint64(flags)*c.seed[2]) | 1
	s := &c.slots[(h>>1)&(AddrCacheSlots-1)]
	if s.h == h && s.flags == flags && int(s.np) == np && int(s.nf) == nf &&
		bytes.Equal(s.raw[:np], r.peer) && bytes.Equal(s.raw[np:np+nf], r.field) {
		return s.result()
	}
	a, v := c.resolve(r)
	*s = cacheSlot{h: h, flags: flags, np: uint8(np), nf: uint8(nf), verdict: v, is4: a.Is4(), addr: a.As16()}
	copy(s.raw[:], r.peer)
	copy(s.raw[np:], r.field)
	return a, v
}

// resolve computes the verdict on r.
func (c *AddrCache) resolve(r *rawKey) (netip.Addr, Verdict) {
	a, err := c.x.resolve(r)
	switch {
	case err == ErrMissing: // returned as is, never wrapped
		return netip.Addr{}, Missing
	case err != nil:
		return netip.Addr{}, Invalid
	}
	if _, ex := c.ex.Exempt(a); ex {
		return netip.Addr{}, Exempted
	}
	return a, Counted
}

// result is the slot's verdict and address.
func (s *cacheSlot) result() (netip.Addr, Verdict) {
	switch {
	case s.verdict != Counted:
		return netip.Addr{}, s.verdict
	case s.is4:
		return netip.AddrFrom4([4]byte(s.addr[12:])), Counted
	}
	return netip.AddrFrom16(s.addr), Counted
}

// keyFlags packs which of r's fields are present and which are strings.
func keyFlags(r *rawKey) uint8 {
	var f uint8
	if r.hasPeer {
		f |= 1
	}
	if r.peerErr != nil {
		f |= 2
	}
	if r.hasField {
		f |= 4
	}
	if r.fieldErr != nil {
		f |= 8
	}
	return f
}

// mixBytes hashes b, at most cacheRaw bytes, with seed: 8 bytes at a time
// through the index's 128-bit multiply.
func mixBytes(b []byte, seed uint64) uint64 {
	h := seed ^ uint64(len(b))
	for len(b) >= 8 {
		h = mix(h^binary.LittleEndian.Uint64(b), 0x9e3779b97f4a7c15)
		b = b[8:]
	}
	var tail [8]byte
	copy(tail[:], b)
	return mix(h^binary.LittleEndian.Uint64(tail[:]), 0xbf58476d1ce4e5b9)
}
