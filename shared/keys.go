package shared

import (
	"net/netip"
	"strconv"
)

// Keys names every key dosguard writes, all under one prefix. Keys of one
// address carry the hash tag {address}, so a script over them touches one
// slot in cluster mode.
type Keys struct {
	Prefix string
}

// Count is the hash of rule's counts of a, one field per bucket.
func (k Keys) Count(a netip.Addr, rule string) string {
	return k.Prefix + "c:{" + a.String() + "}:" + rule
}

// Claim is the key an instance sets to act on a's trip (block, or a
// dry-run decision).
func (k Keys) Claim(a netip.Addr) string {
	return k.Prefix + "claim:{" + a.String() + "}"
}

// Detect is the key an instance sets to report a's trip of a detect rule.
func (k Keys) Detect(a netip.Addr, rule string) string {
	return k.Prefix + "detect:{" + a.String() + "}:" + rule
}

// Bans is the hash of the bans, one field per prefix.
func (k Keys) Bans() string { return k.Prefix + "bans" }

// History is the hash of the offence history, one field per prefix.
func (k Keys) History() string { return k.Prefix + "history" }

// field is a bucket number as a hash field.
func field(b int64) string { return strconv.FormatInt(b, 10) }
