package detector

import (
	"bytes"
	"errors"
	"net/netip"
)

// MaxAddrLen is the longest input ParseAddr accepts, in bytes, surrounding
// spaces included. The longest textual IPv6 address is 45 bytes.
const MaxAddrLen = 64

// Errors returned by ParseAddr. They carry no part of the input, so returning
// them allocates nothing and retains nothing; a caller that wants the bad
// value in its message wraps the error itself.
var (
	// ErrEmpty reports an input that is empty or only spaces.
	ErrEmpty = errors.New("detector: empty address")
	// ErrTooLong reports an input longer than MaxAddrLen bytes.
	ErrTooLong = errors.New("detector: address longer than 64 bytes")
	// ErrPrefix reports a CIDR prefix such as 1.2.3.0/24 or ::/0 where a
	// single address was expected.
	ErrPrefix = errors.New("detector: CIDR prefix, not a single address")
	// ErrPort reports an address followed by a port: 1.2.3.4:80 or
	// [2001:db8::1]:443.
	ErrPort = errors.New("detector: address with a port")
	// ErrZone reports an IPv6 address with a zone such as fe80::1%eth0.
	ErrZone = errors.New("detector: address with a zone")
	// ErrNotAddress reports any other input that is not an IPv4 or IPv6
	// address, brackets around a bare address included.
	ErrNotAddress = errors.New("detector: not an IP address")
)

// ParseAddr parses one IPv4 or IPv6 address from the raw bytes of a log
// field. Surrounding ASCII spaces, tabs, CR and LF are trimmed. An IPv4-mapped
// IPv6 address (::ffff:1.2.3.4) is returned as the IPv4 address, so both
// spellings are the same client.
//
// It accepts exactly what netip.ParseAddr accepts except zones, and rejects:
// inputs longer than MaxAddrLen without reading them (ErrTooLong); nothing
// (ErrEmpty); CIDR prefixes (ErrPrefix); "1.2.3.4:80" and "[::1]:80"
// (ErrPort; the address of an address:port pair could be extracted, but a
// field holding one is misconfigured and guessing would hide that); zones
// (ErrZone); and everything else, "[::1]" included (ErrNotAddress).
//
// ParseAddr does not allocate, for valid or invalid input, and does not
// retain b.
func ParseAddr(b []byte) (netip.Addr, error) {
	if len(b) > MaxAddrLen {
		return netip.Addr{}, ErrTooLong
	}
	b = trimSpace(b)
	if len(b) == 0 {
		return netip.Addr{}, ErrEmpty
	}
	if a, ok := parseIP(b); ok {
		return a, nil
	}
	return netip.Addr{}, classify(b)
}

// trimSpace removes leading and trailing ASCII blanks.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// parseIP parses a bare address, unmapping IPv4-mapped IPv6.
func parseIP(b []byte) (netip.Addr, bool) {
	if bytes.IndexByte(b, ':') < 0 {
		v4, ok := parseV4(b)
		if !ok {
			return netip.Addr{}, false
		}
		return netip.AddrFrom4(v4), true
	}
	v6, ok := parseV6(b)
	if !ok {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(v6).Unmap(), true
}

// classify names why b, which parseIP rejected, is not an address.
func classify(b []byte) error {
	if i := bytes.IndexByte(b, '/'); i >= 0 {
		if _, ok := parseIP(b[:i]); ok {
			return ErrPrefix
		}
		return ErrNotAddress
	}
	if i := bytes.IndexByte(b, '%'); i >= 0 {
		if _, ok := parseIP(b[:i]); ok {
			return ErrZone
		}
		return ErrNotAddress
	}
	if b[0] == '[' {
		j := bytes.IndexByte(b, ']')
		if j < 0 {
			return ErrNotAddress
		}
		if _, ok := parseIP(b[1:j]); ok && len(b) > j+1 && b[j+1] == ':' && isPort(b[j+2:]) {
			return ErrPort
		}
		return ErrNotAddress
	}
	if i := bytes.LastIndexByte(b, ':'); i > 0 && isPort(b[i+1:]) {
		if a, ok := parseIP(b[:i]); ok && a.Is4() {
			return ErrPort
		}
	}
	return ErrNotAddress
}

// isPort reports whether b is 1 to 5 decimal digits.
func isPort(b []byte) bool {
	if len(b) == 0 || len(b) > 5 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseV4 parses dotted-quad IPv4 with the rules of netip.ParseAddr: four
// decimal fields of 0..255, no leading zeros, nothing else.
func parseV4(b []byte) (ip [4]byte, ok bool) {
	i := 0
	for f := range 4 {
		if f > 0 {
			if i >= len(b) || b[i] != '.' {
				return ip, false
			}
			i++
		}
		// One to three digits, no leading zero, at most 255.
		if i >= len(b) || b[i]-'0' > 9 {
			return ip, false
		}
		v := uint(b[i] - '0')
		i++
		if i < len(b) && b[i]-'0' <= 9 {
			if v == 0 {
				return ip, false // leading zero
			}
			v = v*10 + uint(b[i]-'0')
			i++
			if i < len(b) && b[i]-'0' <= 9 {
				if v = v*10 + uint(b[i]-'0'); v > 255 {
					return ip, false
				}
				i++
			}
		}
		ip[f] = byte(v)
	}
	return ip, i == len(b)
}

// parseV6 parses IPv6 text without a zone with the rules of netip.ParseAddr:
// up to eight groups of 1..4 hex digits, at most one "::" standing for at
// least one zero group, and optionally a dotted-quad IPv4 in the last 32 bits.
func parseV6(b []byte) (ip [16]byte, ok bool) {
	ellipsis := -1 // byte offset in ip where "::" stands
	s := b
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
		if len(s) == 0 {
			return ip, true
		}
	}
	i := 0
	for i < 16 {
		off, acc := 0, 0
		for ; off < len(s); off++ {
			h := unhex(s[off])
			if h < 0 {
				break
			}
			if off == 4 {
				return ip, false // more than four digits in a group
			}
			acc = acc<<4 | h
		}
		if off == 0 {
			return ip, false
		}
		if off < len(s) && s[off] == '.' {
			if ellipsis < 0 && i != 12 || i+4 > 16 {
				return ip, false
			}
			v4, ok := parseV4(s)
			if !ok {
				return ip, false
			}
			copy(ip[i:], v4[:])
			i += 4
			s = nil
			break
		}
		ip[i], ip[i+1] = byte(acc>>8), byte(acc)
		i += 2
		s = s[off:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return ip, false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return ip, false // second "::"
			}
			ellipsis = i
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return ip, false
	}
	switch {
	case i < 16 && ellipsis < 0:
		return ip, false
	case i < 16:
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		clear(ip[ellipsis : ellipsis+n])
	case ellipsis >= 0:
		return ip, false // "::" must stand for at least one group
	}
	return ip, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
