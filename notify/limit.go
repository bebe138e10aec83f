package notify

import "time"

// The default publishing rate: one message a second sustained, bursts of up
// to five. SNS deactivates email subscriptions above 10 messages a second
// (per account), so the default stays well below even in a burst.
const (
	DefaultEvery = time.Second
	DefaultBurst = 5
)

// Limiter is a token bucket that paces Publish calls. The bucket holds up
// to burst tokens and gains one every `every`; each message takes one.
// A full bucket lets burst messages through at once, after which messages
// pass at one per `every`.
//
// It is kept as a single time, tat (the "theoretical arrival time" of the
// generic cell rate algorithm): the moment the bucket will be full again.
// Taking a token moves tat one interval later; a token is available when tat
// would not end up more than burst intervals ahead of now. This is exact in
// integer durations, with no floating-point drift.
//
// Time is an argument of every method. The zero value (and NewLimiter with
// every <= 0) allows everything. A Limiter is not safe for concurrent use:
// one goroutine (such as Run) owns it.
type Limiter struct {
	every time.Duration
	burst int
	tat   time.Time
}

// NewLimiter returns a Limiter that allows one message every `every` with
// bursts of up to burst (at least 1). every <= 0 means no limit. Use
// NewLimiter(DefaultEvery, DefaultBurst) for the default.
func NewLimiter(every time.Duration, burst int) *Limiter {
	return &Limiter{every: max(every, 0), burst: max(burst, 1)}
}

// AllowAt reports whether a message may be published at now, and if so
// takes its token.
func (l *Limiter) AllowAt(now time.Time) bool {
	if l.every <= 0 {
		return true
	}
	tat := l.next(now)
	if tat.Sub(now) > l.window() {
		return false
	}
	l.tat = tat
	return true
}

// ReserveAt takes a token at now, going into debt if the bucket is empty,
// and returns how long after now the message may be published (0 when at
// once). Later calls wait for the debt too.
func (l *Limiter) ReserveAt(now time.Time) time.Duration {
	if l.every <= 0 {
		return 0
	}
	tat := l.next(now)
	l.tat = tat
	return max(tat.Sub(now)-l.window(), 0)
}

// next returns tat after taking one token at now.
func (l *Limiter) next(now time.Time) time.Time {
	tat := l.tat
	if tat.Before(now) {
		tat = now
	}
	return tat.Add(l.every)
}

// window is the span a full bucket covers.
func (l *Limiter) window() time.Duration {
	return time.Duration(l.burst) * l.every
}
