// Package conf turns the properties of one dosguard output (a Fluent Bit
// [OUTPUT] section, a YAML output entry or the CLI's flags) into a validated
// Config.
//
// Properties are read through the one-method Getter interface, so the plugin
// passes Fluent Bit's property getter, the CLI passes a parsed config file and
// tests pass a map. Keys are case-insensitive, as Fluent Bit's are. Every
// error names the key and the bad value on one line, because Fluent Bit
// prints it once and refuses to start.
package conf

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dosguard/dosguard/chunk"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/policy"
)

// Getter reads one property by key; it returns "" when the key is absent.
type Getter interface {
	Get(key string) string
}

// Props is a Getter over a map; lookups ignore the case of keys.
type Props map[string]string

// Get returns the value of key, matched case-insensitively, or "".
func (p Props) Get(key string) string {
	if v, ok := p[key]; ok {
		return v
	}
	for k, v := range p {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// Action says what a rule does when it trips.
type Action string

// The actions a rule can take.
const (
	// ActionBlock adds a deny entry to the Network ACLs and notifies.
	ActionBlock Action = "block"
	// ActionDetect only notifies; the Network ACLs are never touched.
	ActionDetect Action = "detect"
)

// Property names: the contract with users and their configs.
const (
	KeyKey             = "Key"
	KeyWindow          = "Window"
	KeyThreshold       = "Threshold"
	KeyAction          = "Action"
	KeyRuleName        = "Rule_Name"
	KeyNetworkACLID    = "Network_ACL_ID"
	KeyRuleNumberRange = "Rule_Number_Range"
	KeyBlockDuration   = "Block_Duration"
	KeyAllowlist       = "Allowlist"
	KeyBlockPrivate    = "Block_Private"
	KeyRegion          = "Region"
	KeySNSTopicARN     = "SNS_Topic_ARN"
	KeySNSSubject      = "SNS_Subject"
	KeyEC2Endpoint     = "EC2_Endpoint"
	KeySNSEndpoint     = "SNS_Endpoint"
	KeyDryRun          = "Dry_Run"
	KeyMaxTrackedKeys  = "Max_Tracked_Keys"
	KeyQueueSize       = "Queue_Size"
	KeyAWSTimeout      = "AWS_Timeout"
	KeyExitTimeout     = "Exit_Timeout"

	// Rules (issue: several named rules, queries, proxies).
	KeyRulesFile      = "Rules_File"
	KeyQuery          = "Query"
	KeyWhere          = "Where"
	KeyWindowType     = "Window_Type"
	KeyDistinct       = "Distinct"
	KeyKeyFallback    = "Key_Fallback"
	KeyTrustedProxies = "Trusted_Proxies"

	// Blocking in production.
	KeyNACLEntryLimit     = "NACL_Entry_Limit"
	KeyOnFull             = "On_Full"
	KeyAggregateAfter     = "Aggregate_After"
	KeyAggregatePrefixV4  = "Aggregate_Prefix_V4"
	KeyAggregatePrefixV6  = "Aggregate_Prefix_V6"
	KeyEscalationWindow   = "Escalation_Window"
	KeyEscalationFactor   = "Escalation_Factor"
	KeyBlockDurationMax   = "Block_Duration_Max"
	KeyStateFile          = "State_File"
	KeyStartupCheck       = "Startup_Check"
	KeyMaxBlocksPerMinute = "Max_Blocks_Per_Minute"
	KeyNotifyInterval     = "Notify_Interval"
	KeyReconcileInterval  = "Reconcile_Interval"

	// Observability.
	KeyMetricsListen = "Metrics_Listen"
)

// Keys lists every property dosguard reads, in documentation order.
var Keys = []string{
	KeyKey, KeyWindow, KeyThreshold, KeyAction, KeyRuleName, KeyNetworkACLID,
	KeyRuleNumberRange, KeyBlockDuration, KeyAllowlist, KeyBlockPrivate,
	KeyRegion, KeySNSTopicARN, KeySNSSubject, KeyEC2Endpoint, KeySNSEndpoint,
	KeyDryRun, KeyMaxTrackedKeys, KeyQueueSize, KeyAWSTimeout, KeyExitTimeout,
	KeyRulesFile, KeyQuery, KeyWhere, KeyWindowType, KeyDistinct, KeyKeyFallback,
	KeyTrustedProxies, KeyNACLEntryLimit, KeyOnFull, KeyAggregateAfter,
	KeyAggregatePrefixV4, KeyAggregatePrefixV6, KeyEscalationWindow,
	KeyEscalationFactor, KeyBlockDurationMax, KeyStateFile, KeyStartupCheck,
	KeyMaxBlocksPerMinute, KeyNotifyInterval, KeyReconcileInterval,
	KeyMetricsListen,
	KeyRedisURL, KeyRedisCluster, KeyRedisKeyPrefix, KeyRedisIAMAuth, KeyRedisUser,
	KeyRedisCacheName, KeyRedisTimeout, KeyRedisMaxPending, KeySyncInterval,
	KeyWAFIPSetARN, KeyWAFEndpoint, KeyWAFEntryLimit,
}

// Defaults of the optional properties.
const (
	DefaultKey            = "host"
	DefaultWindow         = 60 * time.Second
	DefaultBlockDuration  = time.Hour
	DefaultMaxTrackedKeys = 1_000_000
	DefaultQueueSize      = 4096
	DefaultAWSTimeout     = 10 * time.Second
	DefaultExitTimeout    = 5 * time.Second
	DefaultSubject        = "dosguard: {status} {host} ({rule})"

	// The ban manager's and the notifier's own defaults.
	DefaultNACLEntryLimit     = policy.DefaultEntryLimit
	DefaultAggregatePrefixV4  = policy.DefaultAggregatePrefixV4
	DefaultAggregatePrefixV6  = policy.DefaultAggregatePrefixV6
	DefaultEscalationWindow   = policy.DefaultEscalationWindow
	DefaultEscalationFactor   = policy.DefaultEscalationFactor
	DefaultBlockDurationMax   = policy.DefaultBlockDurationMax
	DefaultMaxBlocksPerMinute = policy.DefaultMaxBlocksPerMinute
	DefaultNotifyInterval     = notify.DefaultInterval
	DefaultReconcileInterval  = time.Minute
)

// The On_Full policies.
const (
	OnFullEvict  = policy.OnFullEvict
	OnFullRefuse = policy.OnFullRefuse
)

// Config is the validated configuration of one dosguard instance.
type Config struct {
	// ACLIDs are the Network ACLs that receive every deny entry.
	ACLIDs []string
	// RuleMin and RuleMax bound the managed rule numbers; both 0 means
	// from 1 to just below the lowest ingress allow-all rule.
	RuleMin, RuleMax int
	// Allowlist holds prefixes never blocked; BlockPrivate allows blocking
	// loopback, private, link-local and unspecified addresses.
	Allowlist    []netip.Prefix
	BlockPrivate bool
	// Region is the AWS region; "" leaves it to the default chain.
	Region string
	// TopicARN is the SNS topic; "" means decisions are only logged.
	TopicARN string
	// Subject is the SNS subject template ({status} {host} {rule} {requests}).
	Subject string
	// EC2Endpoint and SNSEndpoint override the AWS endpoints.
	EC2Endpoint, SNSEndpoint string
	// DryRun decides, logs and notifies but never writes to a Network ACL.
	DryRun bool
	// MaxTrackedKeys bounds the addresses tracked at once.
	MaxTrackedKeys int
	// QueueSize bounds the decisions waiting for the worker.
	QueueSize int
	// AWSTimeout bounds each AWS call; ExitTimeout bounds the drain at exit.
	AWSTimeout, ExitTimeout time.Duration

	// Rules are the rules this instance runs, the only truth about them:
	// the one built from the one-rule keys (Threshold, Window, Key, Action,
	// Rule_Name, Block_Duration, Query, Where, ...) or the ones of RulesFile,
	// which inherit Key, Window and Block_Duration. The one-rule keys are not
	// kept beside them.
	Rules     []Rule
	RulesFile string
	// KeyFallback is the field used when a rule's key field is absent
	// (e.g. the peer address when X-Forwarded-For is missing).
	KeyFallbackField string
	KeyFallback      chunk.Path
	// TrustedProxies are skipped when reading an X-Forwarded-For chain from
	// the right.
	TrustedProxies []netip.Prefix

	// NACLEntryLimit is the quota of entries per direction and family.
	NACLEntryLimit int
	// OnFull is evict or refuse.
	OnFull string
	// AggregateAfter banned addresses of one prefix make one prefix entry
	// (0 = off), of AggregatePrefixV4 / AggregatePrefixV6 bits.
	AggregateAfter                       int
	AggregatePrefixV4, AggregatePrefixV6 int
	// Repeat offenders within EscalationWindow get EscalationFactor times
	// the previous ban, up to BlockDurationMax.
	EscalationWindow time.Duration
	EscalationFactor float64
	BlockDurationMax time.Duration
	// StateFile keeps bans across restarts ("" = none).
	StateFile string
	// StartupCheck verifies the NACLs and the credentials at start.
	StartupCheck bool
	// MaxBlocksPerMinute caps new blocks; more fail with "rate limit".
	MaxBlocksPerMinute int
	// NotifyInterval batches notifications (0 = one message per decision).
	NotifyInterval time.Duration
	// ReconcileInterval is how often the bans are compared with the NACLs
	// and drift repaired (0 = only at start).
	ReconcileInterval time.Duration

	// MetricsListen is the host:port serving Prometheus metrics at
	// /metrics ("" = off); outputs of one process with the same address
	// share one endpoint.
	MetricsListen string
	// Redis shares counts and bans between instances; zero: off.
	Redis Redis

	// WAFIPSetARNs are the AWS WAF IP sets that receive every ban of their
	// IP version, beside or instead of the Network ACLs; WAFEndpoint
	// overrides the WAF endpoint; WAFEntryLimit caps the addresses of a
	// set, other writers' counted.
	WAFIPSetARNs  []string
	WAFEndpoint   string
	WAFEntryLimit int
}

// Error is a configuration error naming the key and its bad value.
type Error struct {
	Key, Value, Problem string
}

func (e *Error) Error() string {
	return fmt.Sprintf("dosguard: %s: %q %s", e.Key, e.Value, e.Problem)
}

func bad(key, value, problem string, args ...any) error {
	return &Error{Key: key, Value: value, Problem: fmt.Sprintf(problem, args...)}
}

var (
	aclIDPattern  = regexp.MustCompile(`^acl-[0-9a-f]{8}([0-9a-f]{9})?$`)
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	// The name's length (1 to 256) is checked apart: a {1,256} here
	// compiles to a program of hundreds of instructions, 4 ms and 4,700
	// allocations at every load of the plugin.
	topicARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:([A-Za-z0-9_-]+)(\.fifo)?$`)
)

// unsetWords are the values that mean "not set" for the keys whose default
// is nothing (none) or computed (auto). They let a container image give every
// optional variable a default: Fluent Bit reads a variable set to "" as unset
// and warns "[env] variable ${X} is used but not set" for each.
var unsetWords = map[string]string{
	KeyNetworkACLID: "none", KeySNSTopicARN: "none", KeyAllowlist: "none", KeyWAFIPSetARN: "none",
	KeyDryRun: "auto", KeyRuleNumberRange: "auto",
}

// Parse reads and validates the properties of one dosguard instance.
func Parse(g Getter) (Config, error) {
	get := func(key string) string {
		v := strings.TrimSpace(g.Get(key))
		if w, ok := unsetWords[key]; ok && strings.EqualFold(v, w) {
			return ""
		}
		return v
	}
	c := Config{
		Subject:        DefaultSubject,
		MaxTrackedKeys: DefaultMaxTrackedKeys,
		QueueSize:      DefaultQueueSize,
		AWSTimeout:     DefaultAWSTimeout,
		ExitTimeout:    DefaultExitTimeout,

		NACLEntryLimit:     DefaultNACLEntryLimit,
		OnFull:             OnFullEvict,
		AggregatePrefixV4:  DefaultAggregatePrefixV4,
		AggregatePrefixV6:  DefaultAggregatePrefixV6,
		EscalationWindow:   DefaultEscalationWindow,
		EscalationFactor:   DefaultEscalationFactor,
		BlockDurationMax:   DefaultBlockDurationMax,
		StartupCheck:       true,
		MaxBlocksPerMinute: DefaultMaxBlocksPerMinute,
		NotifyInterval:     DefaultNotifyInterval,
		ReconcileInterval:  DefaultReconcileInterval,
	}
	f, err := parseOneRule(get)
	if err != nil {
		return c, err
	}
	c.RulesFile = get(KeyRulesFile)
	query := get(KeyQuery)
	if v := get(KeyNetworkACLID); v != "" {
		for _, id := range splitList(v) {
			if !aclIDPattern.MatchString(id) {
				return c, bad(KeyNetworkACLID, id, "is not a Network ACL id such as acl-0123456789abcdef0")
			}
			if !contains(c.ACLIDs, id) {
				c.ACLIDs = append(c.ACLIDs, id)
			}
		}
	}
	if v := get(KeyRuleNumberRange); v != "" {
		if c.RuleMin, c.RuleMax, err = parseRange(v); err != nil {
			return c, bad(KeyRuleNumberRange, v, "is not a range lo-hi within 1-32766 (e.g. 1-18)")
		}
	}
	if v := get(KeyAllowlist); v != "" {
		for _, s := range splitList(v) {
			p, err := ParsePrefix(s)
			if err != nil {
				return c, bad(KeyAllowlist, s, "is not an IP address or CIDR")
			}
			c.Allowlist = append(c.Allowlist, p)
		}
	}
	if c.BlockPrivate, err = parseBool(get(KeyBlockPrivate), false); err != nil {
		return c, bad(KeyBlockPrivate, get(KeyBlockPrivate), "is not on or off")
	}
	if v := get(KeyRegion); v != "" {
		if !regionPattern.MatchString(v) {
			return c, bad(KeyRegion, v, "is not an AWS region such as us-east-1")
		}
		c.Region = v
	}
	if v := get(KeySNSTopicARN); v != "" {
		if m := topicARNPattern.FindStringSubmatch(v); m == nil || len(m[1]) > 256 {
			return c, bad(KeySNSTopicARN, v, "is not an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:dosguard")
		}
		c.TopicARN = v
	}
	if v := get(KeySNSSubject); v != "" {
		if !printableASCII(v) {
			return c, bad(KeySNSSubject, v, "must be printable ASCII (SNS refuses other subjects)")
		}
		c.Subject = v
	}
	for _, e := range []struct {
		key string
		dst *string
	}{{KeyEC2Endpoint, &c.EC2Endpoint}, {KeySNSEndpoint, &c.SNSEndpoint}} {
		v := get(e.key)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, bad(e.key, v, "is not an http(s) URL")
		}
		*e.dst = v
	}
	if err := c.parseWAF(get); err != nil {
		return c, err
	}
	dry := get(KeyDryRun)
	if c.DryRun, err = parseBool(dry, !c.Targets()); err != nil {
		return c, bad(KeyDryRun, dry, "is not on or off")
	}
	for _, e := range []struct {
		key      string
		dst      *int
		min, max int
	}{
		{KeyMaxTrackedKeys, &c.MaxTrackedKeys, 100, 100_000_000},
		{KeyQueueSize, &c.QueueSize, 1, 1_000_000},
	} {
		v := get(e.key)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < e.min || n > e.max {
			return c, bad(e.key, v, "is not an integer from %d to %d", e.min, e.max)
		}
		*e.dst = n
	}
	for _, e := range []struct {
		key string
		dst *time.Duration
	}{{KeyAWSTimeout, &c.AWSTimeout}, {KeyExitTimeout, &c.ExitTimeout}} {
		v := get(e.key)
		if v == "" {
			continue
		}
		d, err := ParseDuration(v)
		if err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
			return c, bad(e.key, v, "is not a duration from 100ms to 10m")
		}
		*e.dst = d
	}
	if c.MetricsListen, err = parseListen(get(KeyMetricsListen)); err != nil {
		return c, bad(KeyMetricsListen, get(KeyMetricsListen), "is not host:port with a port from 1 to 65535 (e.g. 127.0.0.1:2022, or :2022 for every interface)")
	}
	if err := c.parseProduction(get, f.blockDuration); err != nil {
		return c, err
	}
	if err := c.parseRules(get, query, f); err != nil {
		return c, err
	}
	if err := c.parseRedis(get); err != nil {
		return c, err
	}
	if !c.DryRun && c.Blocks() && !c.Targets() {
		return c, bad(KeyDryRun, dry, "needs %s or %s: there is no Network ACL or IP set to write to", KeyNetworkACLID, KeyWAFIPSetARN)
	}
	return c, nil
}

// oneRule holds the one-rule keys while Parse builds the rules from them;
// Config does not keep them.
type oneRule struct {
	ruleDefaults
	threshold int    // 0 when Threshold is not set
	action    Action // "" when Action is not set
}

// parseOneRule reads and checks Key, Window, Threshold, Action, Rule_Name
// and Block_Duration.
func parseOneRule(get func(string) string) (oneRule, error) {
	f := oneRule{ruleDefaults: ruleDefaults{window: DefaultWindow, blockDuration: DefaultBlockDuration}}
	var err error
	key := DefaultKey
	if v := get(KeyKey); v != "" {
		key = v
	}
	if f.key, err = chunk.ParsePath(key); err != nil {
		return f, bad(KeyKey, key, "is not a field name or record accessor such as $a['b']")
	}
	if v := get(KeyWindow); v != "" {
		if f.window, err = ParseDuration(v); err != nil || f.window < time.Second {
			return f, bad(KeyWindow, v, "is not a duration of at least 1s (e.g. 60s, 1m, 1h)")
		}
	}
	switch v := get(KeyThreshold); {
	case v == "" && get(KeyRulesFile) == "" && get(KeyQuery) == "":
		return f, bad(KeyThreshold, v, "is required: the number of requests per Window that trips the rule (or set Query or Rules_File)")
	case v != "":
		if f.threshold, err = strconv.Atoi(v); err != nil || f.threshold < 1 {
			return f, bad(KeyThreshold, v, "is not an integer >= 1")
		}
	}
	if v := get(KeyAction); v != "" {
		switch a := Action(strings.ToLower(v)); a {
		case ActionBlock, ActionDetect:
			f.action = a
		default:
			return f, bad(KeyAction, v, "is not block or detect")
		}
	}
	if v := get(KeyRuleName); v != "" && (!printableASCII(v) || len(v) > 64) {
		return f, bad(KeyRuleName, v, "must be 1 to 64 printable ASCII characters")
	}
	if v := get(KeyBlockDuration); v != "" {
		if f.blockDuration, err = ParseDuration(v); err != nil || f.blockDuration < 0 ||
			(f.blockDuration > 0 && f.blockDuration < time.Second) {
			return f, bad(KeyBlockDuration, v, "is not 0 (never expires) or a duration of at least 1s (e.g. 1h, 30m, 7d)")
		}
	}
	return f, nil
}

// ParseDuration parses Go duration syntax ("90s", "1m30s", "1h"), a day
// suffix ("7d") and a bare number of seconds ("60"); "0" is zero.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(1<<63-1)/int64(time.Second) {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 || n > 100_000 {
			return 0, fmt.Errorf("duration %q: bad number of days", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

// ParsePrefix parses a CIDR or a single address (as a /32 or /128), in
// canonical form.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, errors.New("no dash")
	}
	if lo, err = strconv.Atoi(strings.TrimSpace(a)); err != nil {
		return 0, 0, err
	}
	if hi, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
		return 0, 0, err
	}
	if lo < 1 || hi > 32766 || lo > hi {
		return 0, 0, errors.New("out of range")
	}
	return lo, hi, nil
}

func parseBool(s string, def bool) (bool, error) {
	switch strings.ToLower(s) {
	case "":
		return def, nil
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
