package acl

import "time"

// pacer is a token bucket on the caller's clock, after EC2's own bucket for
// mutating calls (burst 50, refill 5/s per account and Region). reserve
// takes tokens even when there are too few, letting the level go negative,
// and says how long the caller must wait before making the calls, so calls
// queued at one instant are spread at the refill rate. The zero pacer (rate
// 0) never waits.
type pacer struct {
	rate   float64 // tokens per second; 0 = unpaced
	burst  float64
	tokens float64
	last   time.Time
}

func newPacer(rate float64, burst int) *pacer {
	return &pacer{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// advance refills the bucket up to now; a clock going back refills nothing.
func (p *pacer) advance(now time.Time) {
	if p.last.IsZero() {
		p.last = now
		return
	}
	if d := now.Sub(p.last); d > 0 {
		p.tokens += d.Seconds() * p.rate
		if p.tokens > p.burst {
			p.tokens = p.burst
		}
		p.last = now
	}
}

// reserve takes n tokens at now and returns how long to wait before using
// them: 0 while the bucket holds n, else the time the refill needs.
func (p *pacer) reserve(now time.Time, n int) time.Duration {
	if p.rate <= 0 || n <= 0 {
		return 0
	}
	p.advance(now)
	p.tokens -= float64(n)
	if p.tokens >= 0 {
		return 0
	}
	return time.Duration(-p.tokens / p.rate * float64(time.Second))
}

// cancel gives back n tokens reserved but not used.
func (p *pacer) cancel(n int) {
	if p.rate <= 0 {
		return
	}
	p.tokens += float64(n)
	if p.tokens > p.burst {
		p.tokens = p.burst
	}
}

// minuteLimit counts events in the sliding minute before now: allow
// records an event and reports true while fewer than max happened in
// (now-1m, now]. max 0 means unlimited.
type minuteLimit struct {
	max   int
	times []time.Time // ascending
}

func (l *minuteLimit) allow(now time.Time) bool {
	if l.max <= 0 {
		return true
	}
	cut := 0
	for cut < len(l.times) && !l.times[cut].After(now.Add(-time.Minute)) {
		cut++
	}
	l.times = l.times[cut:]
	if len(l.times) >= l.max {
		return false
	}
	l.times = append(l.times, now)
	return true
}
