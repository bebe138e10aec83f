package ban

import "net/netip"

// Held is one entry a target holds in its managed range: a deny of Prefix
// at rule Rule of target Target, whoever made it.
type Held struct {
	Target string
	Rule   int
	Prefix netip.Prefix
}
