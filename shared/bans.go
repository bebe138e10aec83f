package shared

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/store"
)

// Bans is the shared store of bans: a store.Store over the bans and history
// hashes, written by difference (only the bans this instance changed since
// it last read or wrote them), plus the claims that make exactly one
// instance act. Safe for concurrent use; the enforcer calls it one call at
// a time.
type Bans struct {
	client  redis.UniversalClient
	keys    Keys
	timeout time.Duration

	mu      sync.Mutex
	saved   map[string]string // bans hash as this instance last read or wrote it
	hist    map[string]string // history hash, likewise
	seq     atomic.Uint64     // writes made by this instance
	unsaved *store.State      // the state of a failed Save, for Retry
}

var (
	_ store.Store   = (*Bans)(nil)
	_ store.Claimer = (*Bans)(nil)
)

// NewBans returns the shared bans on client.
func NewBans(client redis.UniversalClient, keys Keys, timeout time.Duration) *Bans {
	return &Bans{client: client, keys: keys, timeout: timeout, saved: map[string]string{}, hist: map[string]string{}}
}

// record is a ban as stored; since_ns comes first, so a compare-and-delete
// can match a ban's identity by prefix of its text.
type record struct {
	SinceNS   int64         `json:"since_ns"`
	Prefix    netip.Prefix  `json:"prefix"`
	Entries   []recordEntry `json:"entries"`
	ExpiresAt time.Time     `json:"expires_at,omitzero"`
	Offences  int           `json:"offences"`
	Duration  time.Duration `json:"duration_ns"`
}

type recordEntry struct {
	Target  string `json:"target"`
	Rule    int    `json:"rule"`
	Foreign bool   `json:"foreign,omitempty"`
}

type recordOffence struct {
	LastEnd time.Time `json:"last_end"`
	Count   int       `json:"count"`
}

// identity is the start of a ban's stored text that names it: a ban of the
// same prefix begun at another time is another ban.
func identity(b ban.Ban) string {
	return `{"since_ns":` + strconv.FormatInt(b.Since.UnixNano(), 10) + ","
}

func encodeBan(b ban.Ban) string {
	r := record{SinceNS: b.Since.UnixNano(), Prefix: b.Prefix, ExpiresAt: b.ExpiresAt, Offences: b.Offences, Duration: b.Duration}
	for _, e := range b.Entries {
		r.Entries = append(r.Entries, recordEntry{Target: e.Target, Rule: e.Rule, Foreign: e.Foreign})
	}
	data, _ := json.Marshal(r) // plain values: never fails
	return string(data)
}

func decodeBan(s string) (ban.Ban, error) {
	var r record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return ban.Ban{}, err
	}
	if !r.Prefix.IsValid() || r.Prefix.Bits() == 0 || len(r.Entries) == 0 {
		return ban.Ban{}, fmt.Errorf("ban %s: no valid prefix or entries", r.Prefix)
	}
	b := ban.Ban{Prefix: r.Prefix.Masked(), Since: time.Unix(0, r.SinceNS).UTC(), ExpiresAt: r.ExpiresAt,
		Offences: r.Offences, Duration: r.Duration}
	for _, e := range r.Entries {
		b.Entries = append(b.Entries, ban.Entry{Target: e.Target, Rule: e.Rule, Foreign: e.Foreign})
	}
	return b, nil
}

// Decode turns the bans hash's fields into bans; unreadable fields are
// skipped.
func Decode(raw map[string]string) []ban.Ban {
	out := make([]ban.Ban, 0, len(raw))
	for _, v := range raw {
		if b, err := decodeBan(v); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// Seq counts the writes this instance began: a view of the bans read
// before a write may miss it (see Adopt).
func (s *Bans) Seq() uint64 {
	return s.seq.Load()
}

// Adopt takes raw, the bans hash read by a round begun when Seq was seq,
// as what Redis holds, and reports false (taking nothing) if this instance
// has begun a write since.
func (s *Bans) Adopt(seq uint64, raw map[string]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seq.Load() != seq {
		return false
	}
	s.saved = make(map[string]string, len(raw))
	for k, v := range raw {
		s.saved[k] = v
	}
	return true
}

// Load reads every shared ban and the offence history.
func (s *Bans) Load() (*store.State, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	pipe := s.client.Pipeline()
	bans := pipe.HGetAll(ctx, s.keys.Bans())
	hist := pipe.HGetAll(ctx, s.keys.History())
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("shared: load bans: %w", err)
	}
	st := &store.State{Bans: Decode(bans.Val()), History: map[netip.Prefix]ban.Offence{}}
	for k, v := range hist.Val() {
		p, err := netip.ParsePrefix(k)
		var o recordOffence
		if err != nil || json.Unmarshal([]byte(v), &o) != nil {
			continue
		}
		st.History[p] = ban.Offence{LastEnd: o.LastEnd, Count: o.Count}
	}
	s.mu.Lock()
	s.saved, s.hist = bans.Val(), hist.Val()
	s.mu.Unlock()
	return st, nil
}

// endScript deletes a ban's field if it still holds the same ban
// (ARGV[2] starts its text) and returns 1, else 0.
var endScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, #ARGV[2]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
`)

// Save writes the bans and history this instance changed since it last
// read or wrote them, and deletes the bans it no longer holds if Redis
// still holds the same ones (a ban begun again elsewhere stays). On error
// nothing is taken as written: the next Save sends it again.
func (s *Bans) Save(st store.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	bans := make(map[string]string, len(st.Bans))
	for _, b := range st.Bans {
		bans[b.Prefix.String()] = encodeBan(b)
	}
	hist := make(map[string]string, len(st.History))
	for p, o := range st.History {
		data, _ := json.Marshal(recordOffence{LastEnd: o.LastEnd, Count: o.Count})
		hist[p.String()] = string(data)
	}
	pipe := s.client.Pipeline()
	n := 0
	for k, v := range bans {
		if s.saved[k] != v {
			pipe.HSet(ctx, s.keys.Bans(), k, v)
			n++
		}
	}
	for k, v := range s.saved {
		if _, ok := bans[k]; !ok {
			endScript.Run(ctx, pipe, []string{s.keys.Bans()}, k, prefixOf(v))
			s.releaseClaim(ctx, pipe, k)
			n++
		}
	}
	for k, v := range hist {
		if s.hist[k] != v {
			pipe.HSet(ctx, s.keys.History(), k, v)
			n++
		}
	}
	for k := range s.hist {
		if _, ok := hist[k]; !ok {
			pipe.HDel(ctx, s.keys.History(), k)
			n++
		}
	}
	if n == 0 {
		s.unsaved = nil
		return nil
	}
	defer s.seq.Add(1) // after the write: a view read before it is stale
	_, err := pipe.Exec(ctx)
	if isNoScript(err) {
		err = s.retryEnds(ctx, bans)
	}
	if err != nil {
		s.unsaved = &st
		return fmt.Errorf("shared: save bans: %w", err)
	}
	s.saved, s.hist, s.unsaved = bans, hist, nil
	return nil
}

// Retry saves again the state of the last Save that failed, if any.
func (s *Bans) Retry() error {
	s.mu.Lock()
	st := s.unsaved
	s.mu.Unlock()
	if st == nil {
		return nil
	}
	return s.Save(*st)
}

// retryEnds runs the deletes of Save again with EVAL after NOSCRIPT.
func (s *Bans) retryEnds(ctx context.Context, bans map[string]string) error {
	for k, v := range s.saved {
		if _, ok := bans[k]; !ok {
			if err := endScript.Eval(ctx, s.client, []string{s.keys.Bans()}, k, prefixOf(v)).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// prefixOf is the identity part of a stored ban's text.
func prefixOf(v string) string {
	b, err := decodeBan(v)
	if err != nil {
		return v
	}
	return identity(b)
}

// ClaimEnd deletes b from the shared bans if Redis still holds it and
// reports whether this call did: exactly one instance ends a due ban.
func (s *Bans) ClaimEnd(b ban.Ban) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	n, err := endScript.Run(ctx, s.client, []string{s.keys.Bans()}, b.Prefix.String(), identity(b)).Int()
	if err != nil {
		s.seq.Add(1) // it may have deleted
		return false, fmt.Errorf("shared: claim the end of %s: %w", b.Prefix, err)
	}
	if n == 1 {
		s.seq.Add(1) // after the delete: a view read before it is stale
		delete(s.saved, b.Prefix.String())
		s.releaseClaim(ctx, s.client, b.Prefix.String())
	}
	return n == 1, nil
}

// releaseClaim deletes the claim of an ended ban of one address (field is
// its prefix), so that the address can be blocked again at once.
func (s *Bans) releaseClaim(ctx context.Context, c redis.Cmdable, field string) {
	if p, err := netip.ParsePrefix(field); err == nil && p.IsSingleIP() {
		c.Del(ctx, s.keys.Claim(p.Addr())) // best effort: the claim expires anyway
	}
}

// Resave writes bans again whatever this instance last read or wrote:
// after an outage Redis may have restarted empty. It deletes nothing.
func (s *Bans) Resave(bans []ban.Ban) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(bans) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	pipe := s.client.Pipeline()
	for _, b := range bans {
		pipe.HSet(ctx, s.keys.Bans(), b.Prefix.String(), encodeBan(b))
	}
	defer s.seq.Add(1)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("shared: save bans: %w", err)
	}
	for _, b := range bans {
		s.saved[b.Prefix.String()] = encodeBan(b)
	}
	return nil
}

// Claim sets key for ttl unless it is set, and reports whether this call
// set it; if not, left is how long the other claim lasts.
func (s *Bans) Claim(ctx context.Context, key string, ttl time.Duration) (won bool, left time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	pipe := s.client.Pipeline()
	set := pipe.SetNX(ctx, key, "1", ttl)
	pttl := pipe.PTTL(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, 0, fmt.Errorf("shared: claim %s: %w", key, err)
	}
	return set.Val(), max(pttl.Val(), 0), nil
}

// Release deletes a claim key.
func (s *Bans) Release(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.client.Del(ctx, key).Err()
}
