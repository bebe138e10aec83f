package detector

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dosguard/dosguard/chunk"
)

// The actions a rule can take.
const (
	// ActionBlock blocks the address in the network ACLs and notifies.
	ActionBlock = "block"
	// ActionDetect only notifies.
	ActionDetect = "detect"
)

// DefaultKey is the field holding the client address when RuleSpec.Key is
// empty: the host field of Fluent Bit's apache2 and nginx parsers.
const DefaultKey = "host"

// WindowType says how a rule's window moves over time.
type WindowType uint8

// The window types. Sliding is the zero value.
const (
	// Sliding counts the requests of the last Window before each record,
	// Esper's win:time.
	Sliding WindowType = iota
	// Tumbling counts in consecutive batches of Window that start at
	// multiples of Window on the clock, Esper's win:time_batch.
	Tumbling
)

// String returns "sliding" or "tumbling".
func (t WindowType) String() string {
	switch t {
	case Sliding:
		return "sliding"
	case Tumbling:
		return "tumbling"
	}
	return "WindowType(" + strconv.Itoa(int(t)) + ")"
}

// ParseWindowType parses "sliding" or "tumbling" in any case; the empty
// string is Sliding, the default.
func ParseWindowType(s string) (WindowType, error) {
	switch {
	case s == "" || strings.EqualFold(s, "sliding"):
		return Sliding, nil
	case strings.EqualFold(s, "tumbling"):
		return Tumbling, nil
	}
	return 0, fmt.Errorf("detector: window type %q: want sliding or tumbling", s)
}

// RuleSpec is one named rule as written by a user, plus its compiled
// condition: the common form of a structured rule from the rules file and of
// a Norikra query ([ParseQuery]). It is a plain value; [RuleSpec.Validate]
// checks it, and [RuleSpec.Compile] checks it and compiles Where into Cond,
// once per rule: whoever runs the rule evaluates that Cond.
type RuleSpec struct {
	// Name names the rule in logs, notifications and stats.
	Name string
	// Action is ActionBlock, ActionDetect or "": then it is derived from
	// Name, see ResolvedAction.
	Action string
	// Target is the Norikra target: the rule sees the records whose tag
	// equals it or ends in "."+Target; "" matches every tag. See
	// MatchTarget.
	Target string
	// Key is the field holding the client address; empty means DefaultKey.
	Key chunk.Path
	// Window is the length of the window.
	Window time.Duration
	// WindowType is Sliding or Tumbling.
	WindowType WindowType
	// Threshold is the count at which an address fires: count >= Threshold.
	// A query's HAVING COUNT(*) > n becomes n+1.
	Threshold int
	// Where is the condition a record must meet to be counted, in the
	// language of CompileCond; "" counts every record.
	Where string
	// Cond is Where compiled, set by ParseQuery (from its own parse of the
	// query) or by Compile. A spec with a Where and a nil Cond is not
	// compiled yet; a set Cond is taken to be Where compiled.
	Cond *Cond
	// Distinct, when not nil, makes the rule count the distinct values of
	// this field per key (distinct paths, for scanners) instead of requests.
	Distinct chunk.Path
	// Alias is the name the query gave its count (COUNT(*) AS alias), for
	// notifications; informational.
	Alias string
	// Query is the original query when the rule came from one.
	Query string
}

// ResolvedAction returns Action when it is set; otherwise ActionDetect if
// Name starts with "detect." and ActionBlock for any other name, as the
// Fluentd routing of norikra.query.block.* and norikra.query.detect.* did.
func (s RuleSpec) ResolvedAction() string {
	if s.Action != "" {
		return s.Action
	}
	if strings.HasPrefix(s.Name, ActionDetect+".") {
		return ActionDetect
	}
	return ActionBlock
}

// ResolvedKey returns Key, or the path of DefaultKey when Key is empty.
func (s RuleSpec) ResolvedKey() chunk.Path {
	if len(s.Key) == 0 {
		return chunk.Path{DefaultKey}
	}
	return s.Key
}

// Validate reports every invalid field of s, each error naming the rule,
// the field and its value. Name is not checked: whether it is required is
// the rules file's business. A set Cond is taken to be Where compiled and
// is not compiled again.
func (s RuleSpec) Validate() error {
	_, err := s.check()
	return err
}

// Compile validates s as Validate does and returns it with Cond set: the
// Cond already there (ParseQuery's), or Where compiled now. The errors are
// Validate's.
func (s RuleSpec) Compile() (RuleSpec, error) {
	cond, err := s.check()
	if err != nil {
		return RuleSpec{}, err
	}
	s.Cond = cond
	return s, nil
}

// check reports every invalid field of s and returns its compiled
// condition.
func (s RuleSpec) check() (*Cond, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("detector: rule %q: "+format, append([]any{s.Name}, args...)...))
	}
	if s.Action != "" && s.Action != ActionBlock && s.Action != ActionDetect {
		bad("action %q: want %s or %s", s.Action, ActionBlock, ActionDetect)
	}
	if s.Window <= 0 || s.Window > MaxWindow {
		bad("window %v: must be in (0, %v]", s.Window, MaxWindow)
	}
	if s.WindowType > Tumbling {
		bad("window type %v: want sliding or tumbling", s.WindowType)
	}
	if s.Threshold < 1 || s.Threshold > math.MaxInt32 {
		bad("threshold %d: must be in [1, %d]", s.Threshold, math.MaxInt32)
	}
	if err := validPath(s.Key); err != "" {
		bad("key %q: %s", s.Key.String(), err)
	}
	if s.Distinct != nil {
		if err := validPath(s.Distinct); err != "" || len(s.Distinct) == 0 {
			bad("distinct %q: empty field", s.Distinct.String())
		}
	}
	cond := s.Cond
	if cond == nil {
		var err error
		if cond, err = CompileCond(s.Where); err != nil {
			errs = append(errs, fmt.Errorf("detector: rule %q: %w", s.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cond, nil
}

// validPath says why p, a path built by hand rather than by chunk.ParsePath,
// cannot name a field, or "" when it can (an empty p is fine).
func validPath(p chunk.Path) string {
	for _, k := range p {
		if k == "" {
			return "empty field name"
		}
	}
	return ""
}

// MatchTarget reports whether a record with this Fluent Bit tag belongs to
// the Norikra target: target is "", or tag equals target, or tag ends in
// "."+target (so target access matches the tags access and apache.access,
// as remove_tag_prefix apache once made apache.access into access). It does
// not allocate.
func MatchTarget(target, tag string) bool {
	if target == "" || tag == target {
		return true
	}
	n := len(tag) - len(target)
	return n > 0 && tag[n-1] == '.' && tag[n:] == target
}
