package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/redis/go-redis/v9"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
	"github.com/dosguard/dosguard/quiet"
	"github.com/dosguard/dosguard/shared"
	"github.com/dosguard/dosguard/store"
)

// Shared state on Redis (Redis_URL): the sync goroutine's round, the
// worker's claims and merge of the shared bans, and the one line logged
// when Redis goes away or comes back. Without Redis_URL none of it runs.

// claimHold is how long a claim to block lasts, and how long the instances
// that lost it hold the address quiet before the winner's ban shows.
const claimHold = time.Minute

// sharedState is the guard's side of Redis; nil without Redis_URL.
type sharedState struct {
	cfg    conf.Redis
	client redis.UniversalClient
	keys   shared.Keys
	bans   *shared.Bans
	log    *slog.Logger

	// The sync goroutine's own.
	syncer *shared.Syncer
	deltas []shared.Delta
	dbuf   []detector.Delta

	tick   <-chan time.Time // Deps.SyncTick; nil: a ticker of Sync_Interval
	cancel context.CancelFunc
	done   chan struct{}

	down   atomic.Bool // the last call failed
	resave atomic.Bool // Redis came back: write the bans again before merging

	mu   sync.Mutex // guards snap
	snap *snapshot

	stats sharedCounters // for metrics (sharedmetrics.go)
}

// snapshot is the bans hash as a round read it, and the shared store's
// write count when the round began.
type snapshot struct {
	seq uint64
	raw map[string]string
}

// initShared sets up the shared state after the detectors exist: each
// detector keeps its counts for the sync round.
func (g *Guard) initShared(deps Deps) error {
	c := g.cfg.Redis
	if !c.On() {
		return nil
	}
	client, err := shared.NewClient(c, deps.RedisIAM)
	if err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	keys := shared.Keys{Prefix: c.KeyPrefix}
	rules := make([]shared.Rule, len(g.flush.rules))
	for i, ru := range g.flush.rules {
		// An idle address keeps the others' count for one bucket of
		// rounds: its next record, however rare, still sees it.
		keep := int(ru.det.BucketWidth()/c.SyncInterval) + 1
		ru.det.Share(c.MaxPending, keep)
		dc := ru.det.Config()
		rules[i] = shared.Rule{Name: ru.Name, Width: ru.det.BucketWidth(), Ring: dc.Buckets + 1, Tumbling: dc.Tumbling}
	}
	g.shared = &sharedState{
		cfg: c, client: client, keys: keys, log: g.log, tick: deps.SyncTick,
		bans:   shared.NewBans(client, keys, c.Timeout),
		syncer: shared.NewSyncer(client, keys, rules, c.Timeout, c.MaxPending, g.cfg.Blocks() && g.cfg.Targets()),
	}
	return nil
}

// sharedStore is the store of the enforcer: the shared bans with Redis,
// nil (the State_File or memory) without.
func (g *Guard) sharedStore() store.Store {
	if g.shared == nil {
		return nil
	}
	return g.shared.bans
}

// startShared checks Redis once (one warning if it does not answer: the
// instance starts anyway, counting locally) and starts the sync goroutine.
func (g *Guard) startShared() {
	s := g.shared
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	s.report(s.client.Ping(ctx).Err())
	cancel()
	tick, stop := s.tick, func() {}
	if tick == nil {
		t := time.NewTicker(s.cfg.SyncInterval)
		tick, stop = t.C, t.Stop
	}
	ctx, s.cancel = context.WithCancel(context.Background())
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick:
				g.syncRound(ctx)
			}
		}
	}()
}

// closeShared stops the sync goroutine, cutting a round in flight short,
// and closes the client.
func (g *Guard) closeShared() {
	s := g.shared
	if s == nil {
		return
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	_ = s.client.Close()
	if d := g.sharedDropped(); d > 0 {
		g.log.Warn("redis: counts not synced, beyond Redis_Max_Pending", "dropped", d, "redis_max_pending", s.cfg.MaxPending)
	}
}

// sharedDropped is the number of counts never synced: beyond the
// detectors' bound between two rounds, or the rounds' while Redis was
// away. Called when the sync goroutine is not running or from it.
func (g *Guard) sharedDropped() int64 {
	f := &g.flush
	f.mu.Lock()
	defer f.mu.Unlock()
	n := g.shared.syncer.Dropped()
	for _, ru := range f.rules {
		n += ru.det.SharedDropped()
	}
	return n
}

// syncRound sends what the detectors counted since the last round and
// gives each the others' counts; it also reads the shared bans for the
// worker. The flush waits for nothing but the drain, under its lock.
func (g *Guard) syncRound(ctx context.Context) {
	s := g.shared
	f := &g.flush
	s.deltas = s.deltas[:0]
	f.mu.Lock()
	for i, ru := range f.rules {
		s.dbuf = ru.det.Drain(s.dbuf[:0])
		for _, d := range s.dbuf {
			s.deltas = append(s.deltas, shared.Delta{Rule: i, Delta: d})
		}
	}
	f.mu.Unlock()
	seq := s.bans.Seq()
	start := time.Now()
	res, err := s.syncer.Round(ctx, s.deltas)
	if ctx.Err() != nil {
		return // closing
	}
	s.stats.round(time.Since(start), err, s.syncer.Dropped())
	if s.report(err) {
		s.log.Info("redis answers again: counting globally", "not_synced", g.sharedDropped())
	}
	if len(res.Remotes) > 0 {
		f.mu.Lock()
		for _, r := range res.Remotes {
			f.rules[r.Rule].det.SetRemote(r.Addr, r.Others)
		}
		f.mu.Unlock()
	}
	if res.Bans != nil {
		s.mu.Lock()
		s.snap = &snapshot{seq: seq, raw: res.Bans}
		s.mu.Unlock()
	}
}

// report logs one line when Redis stops answering, and reports whether it
// answers again (the sync round logs that line).
func (s *sharedState) report(err error) (back bool) {
	if err != nil {
		if !s.down.Swap(true) {
			s.log.Warn("redis unreachable: counting and blocking locally until it answers", "error", err.Error())
		}
		return false
	}
	if s.down.Swap(false) {
		s.resave.Store(true)
		return true
	}
	return false
}

// mergeShared, on the worker, makes the enforcer hold every instance's
// bans as the last round read them, and the quiet table follow.
func (g *Guard) mergeShared() {
	s := g.shared
	if s == nil || g.enf == nil || !g.enf.started {
		return
	}
	if s.resave.Swap(false) {
		if err := s.bans.Resave(g.enf.Bans()); err != nil {
			s.resave.Store(true)
			return
		}
	}
	if s.bans.Retry() != nil {
		return
	}
	s.mu.Lock()
	snap := s.snap
	s.snap = nil
	s.mu.Unlock()
	if snap == nil || !s.bans.Adopt(snap.seq, snap.raw) {
		return
	}
	added, gone := g.enf.Merge(shared.Decode(snap.raw))
	s.stats.merged.Add(int64(len(added)))
	for _, b := range gone {
		g.quiet.Unban(b.Prefix)
	}
	for _, b := range added {
		g.quiet.Ban(b.Prefix, b.ExpiresAt)
	}
}

// claim decides, with Redis, whether this instance acts on the trip of
// h's address by ru: it sets key (claimed for ttl) unless another instance
// has. The losers hold the address quiet, as holdLost says, and report
// nothing. Without Redis, or when Redis does not answer, the instance acts
// alone.
func (g *Guard) claim(ctx context.Context, key string, ttl time.Duration, holdLost func(left time.Duration)) bool {
	s := g.shared
	if s == nil || s.down.Load() {
		return true
	}
	won, left, err := s.bans.Claim(ctx, key, ttl)
	if err != nil {
		s.stats.claimErrors.Add(1)
		s.report(err)
		return true
	}
	if !won {
		s.stats.claimsLost.Add(1)
		holdLost(left)
	} else {
		s.stats.claimsWon.Add(1)
	}
	return won
}

// claimBlock claims the block of h.Addr for ru; the losers keep the
// address pending until the winner's ban shows in a merge.
func (g *Guard) claimBlock(ctx context.Context, ru *rule, a netip.Addr, now time.Time) bool {
	if g.shared == nil {
		return true
	}
	return g.claim(ctx, g.shared.keys.Claim(a), claimHold, func(left time.Duration) {
		g.quiet.Hold(ru.index, a, quiet.Pending, now.Add(left))
		g.log.Debug("blocked by another instance", "host", a, "rule", ru.Name)
	})
}

// releaseBlock gives the claim up after a failed block, so another
// instance (or this one) may try again.
func (g *Guard) releaseBlock(ctx context.Context, a netip.Addr) {
	s := g.shared
	if s == nil || s.down.Load() {
		return
	}
	if err := s.bans.Release(ctx, s.keys.Claim(a)); err != nil {
		s.report(err)
	}
}

// claimDetect claims the report of h.Addr by detect rule ru for its
// cool-down; the losers cool down as long as the winner's claim lasts.
func (g *Guard) claimDetect(ctx context.Context, ru *rule, a netip.Addr, now time.Time) bool {
	if g.shared == nil {
		return true
	}
	return g.claim(ctx, g.shared.keys.Detect(a, ru.Name), cooldown(ru), func(left time.Duration) {
		g.quiet.Hold(ru.index, a, quiet.Cooldown, now.Add(left))
	})
}

// claimDryRun claims a dry-run decision (no Network ACL) on h.Addr for the
// ban's length; the losers hold the address banned as long.
func (g *Guard) claimDryRun(ctx context.Context, ru *rule, a netip.Addr, now time.Time) bool {
	if g.shared == nil {
		return true
	}
	d := ru.BlockDuration
	if d <= 0 {
		d = 24 * time.Hour
	}
	return g.claim(ctx, g.shared.keys.Claim(a), d, func(left time.Duration) {
		g.quiet.BanUntil(netip.PrefixFrom(a, a.BitLen()), now.Add(left))
		g.quiet.Clear(ru.index, a)
	})
}

// RedisIAM builds the ElastiCache IAM token maker of cfg from the AWS
// default credential chain (nil without Redis_IAM_Auth). It makes no
// network call.
func RedisIAM(ctx context.Context, cfg conf.Config) (*shared.IAMToken, error) {
	if !cfg.Redis.IAMAuth {
		return nil, nil
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("guard: load AWS config for %s: %w", conf.KeyRedisIAMAuth, err)
	}
	if ac.Region == "" {
		return nil, errors.New("dosguard: " + conf.KeyRegion + ": \"\" is required with " + conf.KeyRedisIAMAuth + ": no region in the environment (AWS_REGION) or shared config")
	}
	return &shared.IAMToken{User: cfg.Redis.User, CacheName: cfg.Redis.CacheName, Region: ac.Region, AWS: ac.Credentials}, nil
}

// OpenSharedStore opens the shared bans of cfg for the CLI (nil without
// Redis_URL) and a function that closes its client.
func OpenSharedStore(ctx context.Context, cfg conf.Config) (store.Store, func(), error) {
	if !cfg.Redis.On() {
		return nil, func() {}, nil
	}
	iam, err := RedisIAM(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	client, err := shared.NewClient(cfg.Redis, iam)
	if err != nil {
		return nil, nil, err
	}
	return shared.NewBans(client, shared.Keys{Prefix: cfg.Redis.KeyPrefix}, cfg.Redis.Timeout), func() { _ = client.Close() }, nil
}
