// Package policy decides about bans on plain values, with time as an
// argument and no I/O: how long a ban lasts (escalation), which banned
// addresses fold into one prefix (aggregation), which ban to evict when a
// target is full (On_Full), how many blocks and writes may happen when
// (rate limits, pacing), which bans are due (expiry), and how to bring what
// the store remembers in line with what the targets hold (Reconcile).
//
// The enforce package carries its decisions out against the targets.
package policy

import (
	"fmt"
	"net/netip"
	"time"
)

// OnFull values.
const (
	// OnFullEvict replaces the ban that expires soonest.
	OnFullEvict = "evict"
	// OnFullRefuse fails the new block.
	OnFullRefuse = "refuse"
)

// Defaults of Config's zero fields.
const (
	DefaultEntryLimit         = 20
	DefaultAggregatePrefixV4  = 24
	DefaultAggregatePrefixV6  = 64
	DefaultEscalationWindow   = 24 * time.Hour
	DefaultEscalationFactor   = 2
	DefaultBlockDurationMax   = 7 * 24 * time.Hour
	DefaultMaxBlocksPerMinute = 30
	DefaultMutateRate         = 5
	DefaultMutateBurst        = 50
)

// MaxEvictions bounds the evictions one block may make when other writers
// keep filling the slots it frees.
const MaxEvictions = 3

// UnblockRetry is how long to wait before retrying a failed unblock.
const UnblockRetry = 30 * time.Second

// Guardrail says whether a prefix touches an address that must never be
// blocked (allowlisted, private); *detector.Exemptions implements it.
type Guardrail interface {
	Overlaps(p netip.Prefix) bool
}

// Config holds the policy's settings. Zero fields take the defaults
// (WithDefaults).
type Config struct {
	// OnFull is OnFullEvict (default) or OnFullRefuse.
	OnFull string
	// AggregateAfter, when >= 2, replaces that many banned addresses of one
	// /AggregatePrefixV4 (default 24) or /AggregatePrefixV6 (default 64)
	// by one prefix entry; 0 is off. Needs a Guardrail.
	AggregateAfter                       int
	AggregatePrefixV4, AggregatePrefixV6 int
	// Guardrail vetoes aggregates that overlap an allowlisted or private
	// range; nil disables aggregation.
	Guardrail Guardrail
	// BlockDuration is the length of a ban adopted at start; a block's
	// first length is given with each block. 0 means never expires.
	BlockDuration time.Duration
	// EscalationWindow (default 24h): a new ban of a prefix within this
	// time of its previous ban's end lasts EscalationFactor (default 2)
	// times the previous one, up to BlockDurationMax (default 7 days, or
	// BlockDuration if longer).
	EscalationWindow time.Duration
	EscalationFactor float64
	BlockDurationMax time.Duration
	// MaxBlocksPerMinute (default 30) bounds new blocks with a token
	// bucket of that size refilled at that rate per minute. Negative means
	// unlimited.
	MaxBlocksPerMinute int
	// MutateRate and MutateBurst pace writes to the targets with a token
	// bucket (default 5/s, burst 50, as EC2's own bucket). A negative
	// MutateRate is unpaced.
	MutateRate  float64
	MutateBurst int
	// NoAdopt makes reconciling leave the targets as they are: unknown
	// entries of the managed range are not adopted, missing entries of a
	// ban not written again (the CLI uses it).
	NoAdopt bool
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	setDefault(&c.OnFull, OnFullEvict)
	setDefault(&c.AggregatePrefixV4, DefaultAggregatePrefixV4)
	setDefault(&c.AggregatePrefixV6, DefaultAggregatePrefixV6)
	setDefault(&c.EscalationWindow, DefaultEscalationWindow)
	setDefault(&c.EscalationFactor, DefaultEscalationFactor)
	setDefault(&c.BlockDurationMax, max(DefaultBlockDurationMax, c.BlockDuration))
	setDefault(&c.MaxBlocksPerMinute, DefaultMaxBlocksPerMinute)
	setDefault(&c.MutateRate, DefaultMutateRate)
	setDefault(&c.MutateBurst, DefaultMutateBurst)
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate reports the first invalid field of c (after WithDefaults),
// naming it and its value.
func (c Config) Validate() error {
	var err error
	switch {
	case c.OnFull != OnFullEvict && c.OnFull != OnFullRefuse:
		err = fmt.Errorf("OnFull %q: want %s or %s", c.OnFull, OnFullEvict, OnFullRefuse)
	case c.AggregateAfter < 0 || c.AggregateAfter == 1:
		err = fmt.Errorf("AggregateAfter %d: want 0 (off) or at least 2", c.AggregateAfter)
	case c.AggregatePrefixV4 < 16 || c.AggregatePrefixV4 > 31:
		err = fmt.Errorf("AggregatePrefixV4 %d: want 16..31", c.AggregatePrefixV4)
	case c.AggregatePrefixV6 < 32 || c.AggregatePrefixV6 > 127:
		err = fmt.Errorf("AggregatePrefixV6 %d: want 32..127", c.AggregatePrefixV6)
	case c.BlockDuration < 0:
		err = fmt.Errorf("BlockDuration %v: negative", c.BlockDuration)
	case c.EscalationWindow < 0:
		err = fmt.Errorf("EscalationWindow %v: negative", c.EscalationWindow)
	case c.EscalationFactor < 1:
		err = fmt.Errorf("EscalationFactor %v: want at least 1", c.EscalationFactor)
	case c.BlockDurationMax < c.BlockDuration:
		err = fmt.Errorf("BlockDurationMax %v: shorter than BlockDuration %v", c.BlockDurationMax, c.BlockDuration)
	case c.MutateBurst < 1:
		err = fmt.Errorf("MutateBurst %d: want at least 1", c.MutateBurst)
	}
	if err != nil {
		return fmt.Errorf("policy: config %w", err)
	}
	return nil
}
