package store

import "github.com/dosguard/dosguard/ban"

// Claimer is a Store shared by several instances (Redis): each instance
// finds a ban due on its own, and ClaimEnd lets exactly one of them end it.
type Claimer interface {
	// ClaimEnd removes b from the store if the store still holds it and
	// reports whether this call did; the caller ends b only then. An error
	// means the store did not answer.
	ClaimEnd(b ban.Ban) (bool, error)
}
