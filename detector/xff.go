package detector

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/dosguard/dosguard/chunk"
)

// Errors returned by ClientAddr and KeyExtractor.Extract, besides those of
// ParseAddr for an entry that is not an address. Like those, they carry no
// part of the input and returning them allocates nothing.
var (
	// ErrAllTrusted reports that every hop is a trusted proxy: the
	// forwarded chain holds no untrusted entry, or the header is absent and
	// the peer is a trusted proxy. The client is unknown; a request a
	// proxy made on its own (a health check) looks like this.
	ErrAllTrusted = errors.New("detector: every address is a trusted proxy")
	// ErrEmptyEntry reports an empty entry ("a,,b" or a trailing comma)
	// where the client should be.
	ErrEmptyEntry = errors.New("detector: empty entry in the forwarded chain")
	// ErrMissing reports a record with neither the key field nor the
	// fallback field.
	ErrMissing = errors.New("detector: key field missing")
)

// Proxies is a set of trusted proxy prefixes: the load balancers and
// proxies between the clients and the server writing the log. The nil
// *Proxies trusts nothing. A Proxies is immutable and safe for concurrent
// use.
type Proxies struct {
	v4, v6 []netip.Prefix
}

// NewProxies builds the set of trusted proxies from prefixes. Prefixes are
// masked, IPv4-mapped ones (::ffff:10.0.0.0/104) become IPv4, and an
// invalid (zero) prefix is an error naming its position. No prefixes give an
// empty set, which trusts nothing.
func NewProxies(prefixes []netip.Prefix) (*Proxies, error) {
	p := &Proxies{}
	for i, pf := range prefixes {
		if !pf.IsValid() {
			return nil, fmt.Errorf("detector: trusted proxy %d %q: invalid prefix", i, pf.String())
		}
		pf = normPrefix(pf)
		if pf.Addr().Is4() {
			p.v4 = append(p.v4, pf)
		} else {
			p.v6 = append(p.v6, pf)
		}
	}
	return p, nil
}

// Contains reports whether a is a trusted proxy. IPv4-mapped addresses are
// judged as IPv4; zones are ignored. It does not allocate.
func (p *Proxies) Contains(a netip.Addr) bool {
	if p == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	list := p.v6
	if a.Is4() {
		list = p.v4
	}
	for _, pf := range list {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// Empty reports whether p trusts no address.
func (p *Proxies) Empty() bool {
	return p == nil || len(p.v4)+len(p.v6) == 0
}

// ClientAddr finds the client in an X-Forwarded-For value, a comma-separated
// chain "client, proxy1, proxy2" to which each proxy appended the address
// it received the request from. Only the entries appended by trusted
// proxies can be believed: everything left of them was written by the
// client, who can forge it. So the chain is read from the right: entries
// inside trusted are skipped, and the first entry that is not trusted is
// the client. That entry is the answer even if entries further left look
// like addresses; if it is not an address, the result is its error (never
// an address from further left, which the client wrote); if it is empty,
// ErrEmptyEntry. If every entry is trusted, the result is ErrAllTrusted: no
// hop names the client. With no trusted proxies, the rightmost entry is the
// client: the peer a single load balancer (an AWS ALB) appended.
//
// An entry is an address as ParseAddr reads it, with surrounding blanks,
// or, in this parser only, an address with a port: 1.2.3.4:5678,
// [2001:db8::1]:443, or an IPv6 address in brackets, [2001:db8::1]. ALB
// writes no ports; other proxies do. An unbracketed IPv6 address is never
// split: 2001:db8::1:443 is the address it spells. A value with no comma is a
// single entry, so a plain address field works too. An empty or blank value
// is ErrEmpty.
//
// ClientAddr does not allocate and does not retain xff.
func ClientAddr(xff []byte, trusted *Proxies) (netip.Addr, error) {
	if len(trimSpace(xff)) == 0 {
		return netip.Addr{}, ErrEmpty
	}
	rest := xff
	for {
		i := bytes.LastIndexByte(rest, ',')
		a, err := parseHop(rest[i+1:])
		if err != nil {
			return netip.Addr{}, err
		}
		if !trusted.Contains(a) {
			return a, nil
		}
		if i < 0 {
			return netip.Addr{}, ErrAllTrusted
		}
		rest = rest[:i]
	}
}

// parseHop parses one entry of a forwarded chain: an address, optionally
// with a port, surrounded by blanks.
func parseHop(b []byte) (netip.Addr, error) {
	b = trimSpace(b)
	if len(b) == 0 {
		return netip.Addr{}, ErrEmptyEntry
	}
	if len(b) > MaxAddrLen {
		return netip.Addr{}, ErrTooLong
	}
	if a, ok := parseIP(b); ok {
		return a, nil
	}
	if b[0] == '[' { // [v6] or [v6]:port
		j := bytes.IndexByte(b, ']')
		if j > 0 && (j == len(b)-1 || b[j+1] == ':' && isPort16(b[j+2:])) {
			if a, ok := parseIP(b[1:j]); ok && bytes.IndexByte(b[1:j], ':') >= 0 {
				return a, nil
			}
		}
		return netip.Addr{}, ErrNotAddress
	}
	if i := bytes.LastIndexByte(b, ':'); i > 0 && isPort16(b[i+1:]) && bytes.IndexByte(b[:i], ':') < 0 {
		if v4, ok := parseV4(b[:i]); ok { // v4:port
			return netip.AddrFrom4(v4), nil
		}
	}
	return netip.Addr{}, classify(b)
}

// isPort16 reports whether b is a decimal port: 1 to 5 digits, at most
// 65535.
func isPort16(b []byte) bool {
	if !isPort(b) {
		return false
	}
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// KeySpec says where a record's client address is: the key field, which may
// hold an X-Forwarded-For chain, and a fallback field holding the address
// of the peer that connected to the server.
type KeySpec struct {
	// Field is the key: a plain address, or an X-Forwarded-For chain read
	// with ClientAddr. Required.
	Field chunk.Path
	// Fallback, if set, is the peer's address field (Apache's %a, nginx's
	// $remote_addr), used when Field is absent and, with Trusted, to check
	// that the request came through a trusted proxy at all.
	Fallback chunk.Path
	// Trusted lists the trusted proxies' prefixes: the load balancers'
	// subnets, and any proxy or node between them and the server.
	Trusted []netip.Prefix
}

// KeyExtractor finds the client address in a record, as its KeySpec says.
// It is immutable and safe for concurrent use.
type KeyExtractor struct {
	field, fallback chunk.Path
	trusted         *Proxies
}

// NewKeyExtractor checks spec and compiles it: Field must be set and the
// Trusted prefixes valid.
func NewKeyExtractor(spec KeySpec) (*KeyExtractor, error) {
	if len(spec.Field) == 0 {
		return nil, errors.New("detector: key spec: Field is empty")
	}
	trusted, err := NewProxies(spec.Trusted)
	if err != nil {
		return nil, fmt.Errorf("detector: key spec %s: %w", spec.Field, err)
	}
	return &KeyExtractor{field: spec.Field, fallback: spec.Fallback, trusted: trusted}, nil
}

// KeyExtractors holds one KeyExtractor per distinct key field, so rules
// reading the same field share it and a record's key is extracted once.
// The zero value is empty and ready to use.
type KeyExtractors struct {
	list []*KeyExtractor
	seen map[string]int
}

// Add returns the index of spec's extractor, compiling it (NewKeyExtractor)
// the first time its Field is seen.
func (ks *KeyExtractors) Add(spec KeySpec) (int, error) {
	id := spec.Field.String()
	if k, ok := ks.seen[id]; ok {
		return k, nil
	}
	x, err := NewKeyExtractor(spec)
	if err != nil {
		return 0, err
	}
	if ks.seen == nil {
		ks.seen = map[string]int{}
	}
	ks.seen[id] = len(ks.list)
	ks.list = append(ks.list, x)
	return len(ks.list) - 1, nil
}

// plain reports whether k reads one field with no trusted proxies: the
// client is the field's rightmost entry, and a bare address is itself.
func (k *KeyExtractor) plain() bool {
	return len(k.fallback) == 0 && k.trusted.Empty()
}

// List returns the extractors, by index.
func (ks *KeyExtractors) List() []*KeyExtractor { return ks.list }

// Extract returns the client address of body, an encoded record map:
//
//  1. If Fallback is set and the record has it, the peer is its value, a
//     plain address (ParseAddr: no port). With Trusted set, a peer that is
//     not a trusted proxy is the client: the request did not come through
//     a trusted proxy, so its forwarded header, if any, was written by the
//     client and is ignored. A peer that is not an address is then an
//     error, since the request's path cannot be checked.
//  2. Otherwise, if the record has Field, the client is ClientAddr of its
//     value: the rightmost untrusted entry of the chain.
//  3. Otherwise the peer, if any, is the client, unless it is a trusted
//     proxy (ErrAllTrusted: the proxy sent no header naming the client).
//  4. Otherwise ErrMissing.
//
// A field is absent when the record lacks it, when it is nil, or when its
// string is blank or "-" (Apache and nginx log "-" for a missing header). A
// field that is present but not a string is ErrNotAddress. Without trusted
// proxies the peer check of step 1 is skipped: the rightmost entry of the
// chain is taken as the client, right for one load balancer that appends
// (ALB's default), wrong if clients can reach the server directly.
//
// Extract does not allocate and does not retain body.
func (k *KeyExtractor) Extract(body []byte) (netip.Addr, error) {
	var r rawKey
	k.read(body, &r)
	return k.resolve(&r)
}

// rawKey is what Extract reads from a record: the key field and the
// fallback field, each absent, present but not a string, or its bytes.
// Extract's answer depends on nothing else.
type rawKey struct {
	field, peer       []byte
	hasField, hasPeer bool
	fieldErr, peerErr error // ErrNotAddress: present but not a string
}

// read reads the fields of body that Extract needs into r.
func (k *KeyExtractor) read(body []byte, r *rawKey) {
	*r = rawKey{}
	if len(k.fallback) > 0 {
		r.peer, r.hasPeer, r.peerErr = field(body, k.fallback)
	}
	r.field, r.hasField, r.fieldErr = field(body, k.field)
}

// resolve is Extract on the fields read.
func (k *KeyExtractor) resolve(r *rawKey) (netip.Addr, error) {
	var peer netip.Addr
	peerErr := r.peerErr
	if r.hasPeer && peerErr == nil {
		peer, peerErr = ParseAddr(r.peer)
	}
	checked := r.hasPeer && !k.trusted.Empty()
	if checked {
		if peerErr != nil {
			return netip.Addr{}, peerErr
		}
		if !k.trusted.Contains(peer) {
			return peer, nil
		}
	}
	if r.hasField {
		if r.fieldErr != nil {
			return netip.Addr{}, r.fieldErr
		}
		return ClientAddr(r.field, k.trusted)
	}
	if !r.hasPeer {
		return netip.Addr{}, ErrMissing
	}
	if peerErr != nil {
		return netip.Addr{}, peerErr
	}
	if k.trusted.Contains(peer) {
		return netip.Addr{}, ErrAllTrusted
	}
	return peer, nil
}

// field looks p up in body. present is false when the field is missing,
// nil, blank or "-"; err is ErrNotAddress when it is not a string.
func field(body []byte, p chunk.Path) (b []byte, present bool, err error) {
	return fieldOf(chunk.LookupStr(body, p))
}

// fieldOf is field on what chunk.LookupStr found.
func fieldOf(b []byte, f chunk.Field) ([]byte, bool, error) {
	switch f {
	case chunk.FieldMissing, chunk.FieldNil:
		return nil, false, nil
	case chunk.FieldOther:
		return nil, true, ErrNotAddress
	}
	t := trimSpace(b)
	if len(t) == 0 || len(t) == 1 && t[0] == '-' {
		return nil, false, nil
	}
	return b, true, nil
}
