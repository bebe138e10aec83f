package detector

import (
	"encoding/binary"
	"net/netip"
)

// key is an address as the table holds it: its 16 bytes as two big-endian
// halves, an IPv4 address in its IPv4-mapped form, so that 192.0.2.1 and
// ::ffff:192.0.2.1 are one key. Two words rather than a [16]byte: an
// array goes through memory, and reading it back whole right after
// writing it in halves stalls the CPU (the store cannot be forwarded) on
// every record.
type key struct{ hi, lo uint64 }

// keyOf is a's key; a's zone is dropped.
func keyOf(a netip.Addr) key {
	if a.Is4() {
		b := a.As4()
		return key{lo: 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return key{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// addr is the address of k, IPv4 unmapped.
func (k key) addr() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b).Unmap()
}
