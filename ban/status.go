// Package ban is dosguard's ban model in plain values: the outcome every
// decision ends in (Status), shared by the guard, the enforcement side and
// the notifier. It holds values and their formatting only, no behaviour.
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
