package awstest

import "slices"

// Fault is an injected answer for the next Left calls of Op ("*": any):
// the error Code with HTTP Status. Kind is the endpoint's own refinement
// (apply first, cut the connection, ...); awstest does not read it.
type Fault struct {
	Kind   int
	Op     string
	Code   string
	Status int
	Left   int
}

// Faults is a queue of injected faults, taken in the order they were
// added. It is not safe for concurrent use: the endpoint holds its lock.
type Faults struct{ q []*Fault }

// Add queues f; a fault for no call (Left <= 0) is ignored.
func (fs *Faults) Add(f Fault) {
	if f.Left > 0 {
		fs.q = append(fs.q, &f)
	}
}

// Take consumes one call of the first fault for op, or returns nil.
func (fs *Faults) Take(op string) *Fault {
	for i, f := range fs.q {
		if f.Op != op && f.Op != "*" {
			continue
		}
		f.Left--
		if f.Left <= 0 {
			fs.q = slices.Delete(fs.q, i, i+1)
		}
		return f
	}
	return nil
}

// Clear drops every fault not yet used.
func (fs *Faults) Clear() { fs.q = nil }
