package conf

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/detector"
)

// Rule is one compiled rule: the detector's spec, its condition compiled
// once (RuleSpec.Cond, what the guard evaluates), plus what the guard needs
// to act on it.
type Rule struct {
	detector.RuleSpec
	// Action is the resolved action (block or detect).
	Action Action
	// BlockDuration is the rule's ban length; 0 means never expires.
	BlockDuration time.Duration
}

// ruleDoc is one rule as written in a rules file.
type ruleDoc struct {
	Name          string `yaml:"name"`
	Action        string `yaml:"action"`
	Query         string `yaml:"query"`
	Target        string `yaml:"target"`
	Key           string `yaml:"key"`
	Window        string `yaml:"window"`
	WindowType    string `yaml:"window_type"`
	Threshold     *int   `yaml:"threshold"`
	Where         string `yaml:"where"`
	Distinct      string `yaml:"distinct"`
	BlockDuration string `yaml:"block_duration"`
}

// ruleDefaults are the flat properties that rules file entries inherit.
type ruleDefaults struct {
	key           chunk.Path
	window        time.Duration
	blockDuration time.Duration
}

// LoadRules reads a rules file: a YAML list of rules, or a mapping with a
// "rules" list. Unknown fields, duplicate names and rules that do not
// compile are errors naming the rule and the field.
func LoadRules(path string, def ruleDefaults) ([]Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var docs []ruleDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var node yaml.Node
	if err := dec.Decode(&node); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	root := &node
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.MappingNode {
		var wrapper struct {
			Rules []ruleDoc `yaml:"rules"`
		}
		if err := decodeStrict(root, &wrapper); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		docs = wrapper.Rules
	} else if err := decodeStrict(root, &docs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no rules", path)
	}
	seen := map[string]bool{}
	rules := make([]Rule, 0, len(docs))
	for i, d := range docs {
		if strings.TrimSpace(d.Name) == "" {
			return nil, fmt.Errorf("%s: rule %d: name is required", path, i+1)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("%s: rule %q: name used twice", path, d.Name)
		}
		seen[d.Name] = true
		r, err := d.rule(def)
		if err != nil {
			return nil, fmt.Errorf("%s: rule %q: %w", path, d.Name, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func decodeStrict(n *yaml.Node, v any) error {
	// yaml.Node.Decode ignores KnownFields; re-encode and decode strictly.
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func (d ruleDoc) rule(def ruleDefaults) (Rule, error) {
	var spec detector.RuleSpec
	if d.Query != "" {
		for field, set := range map[string]bool{"key": d.Key != "", "window": d.Window != "",
			"window_type": d.WindowType != "", "threshold": d.Threshold != nil, "where": d.Where != "",
			"distinct": d.Distinct != "", "target": d.Target != ""} {
			if set {
				return Rule{}, fmt.Errorf("%s: not allowed with query (the query says it)", field)
			}
		}
		var err error
		if spec, err = detector.ParseQuery(d.Query); err != nil {
			return Rule{}, err
		}
	} else {
		spec.Key = def.key
		if d.Key != "" {
			p, err := chunk.ParsePath(d.Key)
			if err != nil {
				return Rule{}, fmt.Errorf("key %q: %w", d.Key, err)
			}
			spec.Key = p
		}
		spec.Window = def.window
		if d.Window != "" {
			w, err := ParseDuration(d.Window)
			if err != nil || w < time.Second {
				return Rule{}, fmt.Errorf("window %q: not a duration of at least 1s", d.Window)
			}
			spec.Window = w
		}
		wt, err := detector.ParseWindowType(d.WindowType)
		if err != nil {
			return Rule{}, fmt.Errorf("window_type %q: want sliding or tumbling", d.WindowType)
		}
		spec.WindowType = wt
		if d.Threshold == nil {
			return Rule{}, fmt.Errorf("threshold is required (or a query)")
		}
		spec.Threshold = *d.Threshold
		spec.Where = d.Where
		spec.Target = d.Target
		if d.Distinct != "" {
			p, err := chunk.ParsePath(d.Distinct)
			if err != nil {
				return Rule{}, fmt.Errorf("distinct %q: %w", d.Distinct, err)
			}
			spec.Distinct = p
		}
	}
	spec.Name = d.Name
	spec.Action = strings.ToLower(d.Action)
	return finishRule(spec, d.BlockDuration, def.blockDuration)
}

// finishRule validates spec, compiles its condition unless ParseQuery or
// the Where key did, and resolves its action and ban length.
func finishRule(spec detector.RuleSpec, blockDuration string, def time.Duration) (Rule, error) {
	spec, err := spec.Compile()
	if err != nil {
		return Rule{}, err
	}
	if spec.Distinct != nil && spec.Threshold > detector.MaxDistinctThreshold {
		return Rule{}, fmt.Errorf("rule %q: threshold %d: at most %d with distinct (each value is remembered)",
			spec.Name, spec.Threshold, detector.MaxDistinctThreshold)
	}
	r := Rule{RuleSpec: spec, Action: Action(spec.ResolvedAction()), BlockDuration: def}
	if blockDuration != "" {
		d, err := ParseDuration(blockDuration)
		if err != nil || d < 0 || (d > 0 && d < time.Second) {
			return Rule{}, fmt.Errorf("block_duration %q: not 0 or a duration of at least 1s", blockDuration)
		}
		r.BlockDuration = d
	}
	return r, nil
}

// Blocks reports whether any rule blocks (the others only detect).
func (c Config) Blocks() bool {
	for _, r := range c.Rules {
		if r.Action == ActionBlock {
			return true
		}
	}
	return false
}

// AdoptDuration is the ban length given to an entry of the managed range
// found with no ban on record: the longest Block_Duration of the blocking
// rules (of all rules when none blocks); 0, never expires, is the longest.
// With one rule it is that rule's Block_Duration.
func (c Config) AdoptDuration() time.Duration {
	longest := func(blocking bool) (d time.Duration, found bool) {
		for _, r := range c.Rules {
			if blocking && r.Action != ActionBlock {
				continue
			}
			if r.BlockDuration == 0 {
				return 0, true
			}
			d, found = max(d, r.BlockDuration), true
		}
		return d, found
	}
	if d, ok := longest(true); ok {
		return d
	}
	d, _ := longest(false)
	return d
}

// Describe renders a rule for logs: name, action, window and threshold.
func (r Rule) Describe() string {
	var b strings.Builder
	b.WriteString(r.Name + " " + string(r.Action) + " key=" + r.ResolvedKey().String())
	b.WriteString(" window=" + r.Window.String() + "/" + r.WindowType.String())
	b.WriteString(" threshold=" + strconv.Itoa(r.Threshold))
	if r.Distinct != nil {
		b.WriteString(" distinct=" + r.Distinct.String())
	}
	if r.Where != "" {
		b.WriteString(" where=" + strconv.Quote(r.Where))
	}
	if r.Target != "" {
		b.WriteString(" target=" + r.Target)
	}
	return b.String()
}

// parseRules builds c.Rules from Rules_File, or from the one-rule keys f.
func (c *Config) parseRules(get func(string) string, query string, f oneRule) error {
	if v := get(KeyKeyFallback); v != "" {
		p, err := chunk.ParsePath(v)
		if err != nil {
			return bad(KeyKeyFallback, v, "is not a field name or record accessor such as $a['b']")
		}
		c.KeyFallbackField, c.KeyFallback = v, p
	}
	if v := get(KeyTrustedProxies); v != "" {
		for _, s := range splitList(v) {
			p, err := ParsePrefix(s)
			if err != nil {
				return bad(KeyTrustedProxies, s, "is not an IP address or CIDR")
			}
			if p.Bits() == 0 {
				return bad(KeyTrustedProxies, s, "trusts every address: then no client address can be known")
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	if c.RulesFile != "" {
		for _, k := range []string{KeyThreshold, KeyQuery, KeyWhere, KeyWindowType, KeyDistinct, KeyRuleName, KeyAction} {
			if v := get(k); v != "" {
				return bad(k, v, "is a one-rule key: with %s, write it in the rules file", KeyRulesFile)
			}
		}
		rules, err := LoadRules(c.RulesFile, f.ruleDefaults)
		if err != nil {
			return &Error{Key: KeyRulesFile, Value: c.RulesFile, Problem: oneLine(err.Error())}
		}
		c.Rules = rules
		return nil
	}
	var spec detector.RuleSpec
	if query != "" {
		for _, k := range []string{KeyThreshold, KeyWhere, KeyWindowType, KeyDistinct} {
			if v := get(k); v != "" {
				return bad(k, v, "is not allowed with %s: the query says it", KeyQuery)
			}
		}
		q, err := detector.ParseQuery(query)
		if err != nil {
			return fmt.Errorf("dosguard: %s: %s", KeyQuery, oneLine(err.Error()))
		}
		spec = q
	} else {
		spec = detector.RuleSpec{Key: f.key, Window: f.window, Threshold: f.threshold, Where: get(KeyWhere)}
		if v := get(KeyWindowType); v != "" {
			wt, err := detector.ParseWindowType(v)
			if err != nil {
				return bad(KeyWindowType, v, "is not sliding or tumbling")
			}
			spec.WindowType = wt
		}
		if v := get(KeyDistinct); v != "" {
			p, err := chunk.ParsePath(v)
			if err != nil {
				return bad(KeyDistinct, v, "is not a field name or record accessor such as $a['b']")
			}
			spec.Distinct = p
		}
		if spec.Where != "" {
			cond, err := detector.CompileCond(spec.Where)
			if err != nil {
				return fmt.Errorf("dosguard: %s: %s", KeyWhere, oneLine(err.Error()))
			}
			spec.Cond = cond
		}
	}
	spec.Action = string(f.action)
	spec.Name = get(KeyRuleName)
	if spec.Name == "" {
		spec.Name = string(cmp.Or(f.action, ActionBlock)) + ".default"
	}
	r, err := finishRule(spec, "", f.blockDuration)
	if err != nil {
		return fmt.Errorf("dosguard: %s", oneLine(err.Error()))
	}
	c.Rules = []Rule{r}
	return nil
}

// parseProduction reads the keys of blocking in production: quota, full
// policy, aggregation, escalation, state, pacing and notification batching.
// blockDuration is the output's Block_Duration.
func (c *Config) parseProduction(get func(string) string, blockDuration time.Duration) error {
	ints := []struct {
		key      string
		dst      *int
		min, max int
	}{
		{KeyNACLEntryLimit, &c.NACLEntryLimit, 3, 40},
		{KeyAggregateAfter, &c.AggregateAfter, 0, 256},
		{KeyAggregatePrefixV4, &c.AggregatePrefixV4, 16, 31},
		{KeyAggregatePrefixV6, &c.AggregatePrefixV6, 32, 127},
		{KeyMaxBlocksPerMinute, &c.MaxBlocksPerMinute, 1, 10000},
	}
	for _, e := range ints {
		v := get(e.key)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < e.min || n > e.max {
			return bad(e.key, v, "is not an integer from %d to %d", e.min, e.max)
		}
		*e.dst = n
	}
	if c.AggregateAfter == 1 {
		return bad(KeyAggregateAfter, "1", "must be 0 (off) or at least 2")
	}
	if v := get(KeyOnFull); v != "" {
		switch strings.ToLower(v) {
		case OnFullEvict, OnFullRefuse:
			c.OnFull = strings.ToLower(v)
		default:
			return bad(KeyOnFull, v, "is not evict or refuse")
		}
	}
	durs := []struct {
		key      string
		dst      *time.Duration
		min, max time.Duration
	}{
		{KeyEscalationWindow, &c.EscalationWindow, 0, 365 * 24 * time.Hour},
		{KeyBlockDurationMax, &c.BlockDurationMax, time.Second, 365 * 24 * time.Hour},
		{KeyNotifyInterval, &c.NotifyInterval, 0, time.Hour},
		{KeyReconcileInterval, &c.ReconcileInterval, 0, 24 * time.Hour},
	}
	for _, e := range durs {
		v := get(e.key)
		if v == "" {
			continue
		}
		d, err := ParseDuration(v)
		if err != nil || d < e.min || d > e.max {
			return bad(e.key, v, "is not a duration from %v to %v", e.min, e.max)
		}
		*e.dst = d
	}
	if v := get(KeyEscalationFactor); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 1 || f > 100 {
			return bad(KeyEscalationFactor, v, "is not a number from 1 to 100")
		}
		c.EscalationFactor = f
	}
	if blockDuration > c.BlockDurationMax {
		if get(KeyBlockDurationMax) != "" {
			return bad(KeyBlockDurationMax, get(KeyBlockDurationMax), "is shorter than %s %v", KeyBlockDuration, blockDuration)
		}
		c.BlockDurationMax = blockDuration
	}
	c.StateFile = get(KeyStateFile)
	var err error
	if c.StartupCheck, err = parseBool(get(KeyStartupCheck), true); err != nil {
		return bad(KeyStartupCheck, get(KeyStartupCheck), "is not on or off")
	}
	return nil
}

// oneLine keeps an error on one line, as Fluent Bit prints it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}
