// Package target is what enforces a ban: the Target interface, implemented
// by the network ACL (package acl) and, next, an IP set; and DryRun, the
// one wrapper that reads through a target and records its writes instead
// of making them.
//
// A target denies prefixes with numbered entries in a managed range and is
// the truth about what is denied: the enforce package lists it to
// reconcile, and reads it back when a write's outcome is unknown.
package target

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/dosguard/dosguard/ban"
)

// Target denies prefixes. Its methods may be called from one goroutine at a
// time per prefix; each call is bounded by the target's own timeout.
type Target interface {
	// ID names the target, such as "acl-0abc"; entries carry it.
	ID() string
	// Capacity is the most entries of one address family (v6 or not) the
	// target may hold, everything counted.
	Capacity(v6 bool) int
	// Add denies p and returns its entry: a new one, or an existing deny of
	// exactly p (Foreign when another writer made it). A full target
	// returns an error matching ErrFull.
	Add(ctx context.Context, p netip.Prefix) (ban.Entry, error)
	// Remove deletes the entry of p at rule, if the target still holds it
	// for exactly p; an entry already gone is not an error.
	Remove(ctx context.Context, p netip.Prefix, rule int) error
	// List returns the deny entries of the managed range.
	List(ctx context.Context) ([]ban.Held, error)
	// Check verifies that the target exists and, with write, that it may
	// be written; its error is one line for an operator.
	Check(ctx context.Context, write bool) error
}

// Planner is a Target that can say what Add would do, given writes it is
// to pretend were made; DryRun needs it.
type Planner interface {
	Target
	// Plan returns the entry Add would give p, reading the target as if
	// pretend held its Added entries and not its Removed ones.
	Plan(ctx context.Context, p netip.Prefix, pretend Overlay) (ban.Entry, error)
}

// Overlay is the writes a dry run pretends to have made.
type Overlay struct {
	Added, Removed []ban.Held
}

// ErrFull matches the error of an Add refused because the target has no
// room left (no free rule number, or its capacity reached).
var ErrFull = errors.New("target full")

// Failure is implemented by targets' errors.
type Failure interface {
	error
	// Code is a short operator-facing cause, such as an EC2 error code.
	Code() string
	// Transient reports a failure that may pass within seconds: a
	// timeout, throttling, a 5xx answer, a broken connection.
	Transient() bool
}

// Code returns the Code of err's Failure, or err's text.
func Code(err error) string {
	var f Failure
	if errors.As(err, &f) && f.Code() != "" {
		return f.Code()
	}
	return err.Error()
}

// OutcomeUnknown reports whether a failed AWS call may still have taken
// effect: anything but a 4xx answer (a 5xx, a timeout, a cut connection).
// The target is then read back.
func OutcomeUnknown(err error) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		s := re.HTTPStatusCode()
		return s < http.StatusBadRequest || s >= http.StatusInternalServerError
	}
	return true
}

// Sleep waits d, or less if ctx ends first (its error). A wait that would
// outlast ctx's deadline is not begun: it returns
// context.DeadlineExceeded at once. Targets' retries and the enforcer's
// write pacing use it.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded // waiting would outlast the caller
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Transient reports whether err is a target's transient failure.
func Transient(err error) bool {
	var f Failure
	return errors.As(err, &f) && f.Transient()
}

// Shared is a Target that holds other writers' entries beside dosguard's
// with nothing to tell them apart (an AWS WAF IP set): only the store
// knows which are dosguard's. Its entries no ban knows are never adopted,
// and one dosguard did not add is never removed, not even by hand.
type Shared interface {
	Target
	// Takes reports whether the target takes p at all: an IP set holds
	// one IP version.
	Takes(p netip.Prefix) bool
}

// Batcher is a Target whose writes can be staged and sent together (an IP
// set's UpdateIPSet replaces the whole list). Between Stage and Commit,
// Add and Remove record their change and return at once: Add still
// answers Foreign and ErrFull, from one read of the target per batch;
// Remove of a prefix added in the same batch cancels the add.
type Batcher interface {
	Target
	// Stage starts staging writes.
	Stage()
	// Commit stops staging and writes the staged changes, in as few
	// calls as the target allows; it returns the outcome of each.
	Commit(ctx context.Context) []Outcome
}

// Outcome is what became of one staged change of a Batcher.
type Outcome struct {
	Prefix netip.Prefix
	// Add is true for an Add, false for a Remove.
	Add bool
	// Entry is the entry of an Add that succeeded: Foreign when another
	// writer had added the prefix by the time the change was written.
	Entry ban.Entry
	// Err is why the change failed; nil on success.
	Err error
}
