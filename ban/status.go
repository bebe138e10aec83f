// Package ban is dosguard's ban model in plain values: a Ban (a prefix
// denied, with its Entry in each target, its expiry and offences), the
// Event every enforcement step ends in (a Status with a typed Cause), and
// the offence history. Shared by policy, enforce, the guard and the
// notifier, it holds values and their formatting only, no behaviour.
package ban

// Status is what dosguard did about a client: the "status" field of a
// notification, its "status" message attribute, and the level of its log line.
type Status string

// The statuses a decision can end in.
const (
	// Blocked means the client is denied by at least one target.
	Blocked Status = "blocked"
	// Detected means a detect-only rule was crossed; nothing was blocked.
	Detected Status = "detected"
	// Failed means a block was attempted and failed; the reason says why.
	Failed Status = "failed to block"
	// Unblocked means a ban ended and its entries were removed.
	Unblocked Status = "unblocked"
)

// Statuses lists every Status, in the order notifications count them.
var Statuses = [...]Status{Blocked, Failed, Unblocked, Detected}
