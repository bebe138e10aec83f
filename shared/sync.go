package shared

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dosguard/dosguard/detector"
)

// Rule is one rule as a sync round sees it: its name (the same on every
// instance) and its detector's buckets.
type Rule struct {
	Name string
	// Width is the bucket width (detector.BucketWidth); Ring the buckets an
	// address's count spans (detector Config.Buckets+1); Tumbling counts
	// the head bucket alone.
	Width    time.Duration
	Ring     int
	Tumbling bool
}

// Delta is what one rule counted of one address since the last round.
type Delta struct {
	Rule int
	detector.Delta
}

// Remote is the other instances' windowed count of an address for a rule:
// the global count less the instance's own.
type Remote struct {
	Rule   int
	Addr   netip.Addr
	Others int
	Global int
}

// Result is what a round brought back.
type Result struct {
	Remotes []Remote
	// Bans are the fields of the bans hash, read in the same round trip;
	// nil when the round did not read them.
	Bans map[string]string
}

// countScript adds one address's deltas and returns its windowed counts.
// KEYS: one count hash per rule. ARGV, per key: lo, hi, cutoff, ttl_ms,
// pairs, then pairs of (bucket, count). It returns, per key, the sum of the
// fields from lo to hi, after deleting fields older than cutoff.
var countScript = redis.NewScript(`
local out = {}
local a = 1
for i, key in ipairs(KEYS) do
  local lo, hi, cutoff = tonumber(ARGV[a]), tonumber(ARGV[a+1]), tonumber(ARGV[a+2])
  local ttl, np = ARGV[a+3], tonumber(ARGV[a+4])
  a = a + 5
  for j = 1, np do
    redis.call('HINCRBY', key, ARGV[a], ARGV[a+1])
    a = a + 2
  end
  local sum = 0
  local f = redis.call('HGETALL', key)
  for j = 1, #f, 2 do
    local b = tonumber(f[j])
    if b < cutoff then
      redis.call('HDEL', key, f[j])
    elseif b >= lo and b <= hi then
      sum = sum + tonumber(f[j+1])
    end
  end
  redis.call('PEXPIRE', key, ttl)
  out[i] = sum
end
return out
`)

// Syncer runs the sync rounds of one instance. It is owned by one
// goroutine; Round is not safe for concurrent use.
type Syncer struct {
	client  redis.UniversalClient
	keys    Keys
	rules   []Rule
	timeout time.Duration
	maxHeld int
	readBan bool

	held    []Delta // deltas of failed scripts, sent again next round
	dropped int64   // deltas dropped beyond maxHeld
	batch   []Delta
}

// NewSyncer returns the Syncer of rules over client. Each call is bounded
// by timeout; at most maxHeld deltas of failed rounds are kept. With
// readBans each round also reads the bans hash.
func NewSyncer(client redis.UniversalClient, keys Keys, rules []Rule, timeout time.Duration, maxHeld int, readBans bool) *Syncer {
	return &Syncer{client: client, keys: keys, rules: rules, timeout: timeout, maxHeld: maxHeld, readBan: readBans}
}

// Dropped is the number of deltas dropped because Redis did not take them
// and the held ones reached their bound.
func (s *Syncer) Dropped() int64 { return s.dropped }

// Held is the number of deltas waiting for the next round.
func (s *Syncer) Held() int { return len(s.held) }

// group is one address's script call.
type group struct {
	deltas []Delta // of one address, by rule
	cmd    *redis.Cmd
}

// Round sends in (and the deltas held from failed rounds) in one
// pipelined round trip and returns the others' counts of every address
// sent. On error (Redis unreachable, timeout) the deltas not known to be
// counted are held for the next round, up to the bound; the rest are
// dropped and counted.
func (s *Syncer) Round(ctx context.Context, in []Delta) (Result, error) {
	var res Result
	s.batch = append(append(s.batch[:0], s.held...), in...)
	s.held = s.held[:0]
	slices.SortStableFunc(s.batch, func(a, b Delta) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return a.Rule - b.Rule
	})
	var groups []group
	for i := 0; i < len(s.batch); {
		j := i + 1
		for j < len(s.batch) && s.batch[j].Addr == s.batch[i].Addr {
			j++
		}
		groups = append(groups, group{deltas: s.batch[i:j]})
		i = j
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := s.run(ctx, groups, &res, true)
	if err != nil && isNoScript(err) {
		if lerr := s.load(ctx); lerr == nil {
			err = s.run(ctx, groups, &res, false)
		}
	}
	for _, g := range groups {
		if g.cmd != nil && g.cmd.Err() == nil {
			res.Remotes = s.remotes(res.Remotes, g)
			continue
		}
		for _, d := range g.deltas {
			if len(s.held) >= s.maxHeld {
				s.dropped++
				continue
			}
			s.held = append(s.held, d)
		}
	}
	return res, err
}

// run sends every group's script (and the bans read) in one pipeline.
func (s *Syncer) run(ctx context.Context, groups []group, res *Result, all bool) error {
	pipe := s.client.Pipeline()
	n := 0
	for i := range groups {
		g := &groups[i]
		if !all && g.cmd != nil && !isNoScript(g.cmd.Err()) {
			continue
		}
		keys, args := s.scriptArgs(g.deltas)
		g.cmd = countScript.EvalSha(ctx, pipe, keys, args...)
		n++
	}
	var bans *redis.MapStringStringCmd
	if all && s.readBan {
		bans = pipe.HGetAll(ctx, s.keys.Bans())
		n++
	}
	if n == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	if bans != nil && bans.Err() == nil {
		res.Bans = bans.Val()
	}
	return err
}

// load loads the script into every node.
func (s *Syncer) load(ctx context.Context) error {
	if c, ok := s.client.(*redis.ClusterClient); ok {
		return c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			return countScript.Load(ctx, n).Err()
		})
	}
	return countScript.Load(ctx, s.client).Err()
}

// scriptArgs are the KEYS and ARGV of one address's deltas: one key per
// rule, the deltas of the same rule (held and new) summed per bucket.
func (s *Syncer) scriptArgs(ds []Delta) ([]string, []any) {
	var (
		keys []string
		args []any
	)
	for i := 0; i < len(ds); {
		j := i + 1
		for j < len(ds) && ds[j].Rule == ds[i].Rule {
			j++
		}
		ru := s.rules[ds[i].Rule]
		head := ds[j-1].Head // the newest delta's
		lo, hi := head-int64(ru.Ring-1), head
		if ru.Tumbling {
			lo = head
		}
		cutoff := head - 2*int64(ru.Ring)
		ttl := (time.Duration(ru.Ring) + 1) * ru.Width
		keys = append(keys, s.keys.Count(ds[i].Addr, ru.Name))
		var pairs []any
		for _, d := range ds[i:j] {
			for k, n := range d.Counts {
				if n > 0 {
					pairs = append(pairs, field(d.Buckets[k]), n)
				}
			}
		}
		args = append(args, lo, hi, cutoff, max(ttl.Milliseconds(), 1), len(pairs)/2)
		args = append(args, pairs...)
		i = j
	}
	return keys, args
}

// remotes appends the others' counts of one group's address.
func (s *Syncer) remotes(out []Remote, g group) []Remote {
	sums, _ := g.cmd.Int64Slice()
	k := 0
	for i := 0; i < len(g.deltas) && k < len(sums); k++ {
		j := i + 1
		for j < len(g.deltas) && g.deltas[j].Rule == g.deltas[i].Rule {
			j++
		}
		last := g.deltas[j-1]
		out = append(out, Remote{Rule: last.Rule, Addr: last.Addr, Global: int(sums[k]), Others: max(int(sums[k])-last.Local, 0)})
		i = j
	}
	return out
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}
