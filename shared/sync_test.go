package shared

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/detector"
	"github.com/dosguard/dosguard/shared/redistest"
)

func client(t testing.TB, url string, cluster bool) redis.UniversalClient {
	t.Helper()
	c, err := NewClient(conf.Redis{URL: url, Cluster: cluster, Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var (
	sliding  = Rule{Name: "flood", Width: 5 * time.Second, Ring: 13}
	tumbling = Rule{Name: "batch", Width: time.Minute, Ring: 2, Tumbling: true}
	keys     = Keys{Prefix: "test:"}
)

func delta(rule int, a string, head int64, local int, pairs ...int64) Delta {
	d := Delta{Rule: rule, Delta: detector.Delta{Addr: netip.MustParseAddr(a), Head: head, Local: local}}
	for i := 0; i+1 < len(pairs); i += 2 {
		d.Buckets[i/2], d.Counts[i/2] = pairs[i], uint32(pairs[i+1])
	}
	return d
}

// step is one round of one instance: what it sends, and the others' and
// global counts it must get back.
type step struct {
	inst           int
	in             Delta
	others, global int
}

func runSteps(t *testing.T, c redis.UniversalClient, steps []step) {
	t.Helper()
	syncers := []*Syncer{
		NewSyncer(c, keys, []Rule{sliding, tumbling}, 5*time.Second, 100, false),
		NewSyncer(c, keys, []Rule{sliding, tumbling}, 5*time.Second, 100, false),
	}
	for i, s := range steps {
		res, err := syncers[s.inst].Round(context.Background(), []Delta{s.in})
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if len(res.Remotes) != 1 || res.Remotes[0].Others != s.others || res.Remotes[0].Global != s.global {
			t.Fatalf("step %d: Round(%+v) = %+v, want others %d global %d", i, s.in, res.Remotes, s.others, s.global)
		}
	}
}

// TestRoundSliding: two instances' counts of one address add up over the
// sliding window's ring; buckets that left the ring no longer count.
func TestRoundSliding(t *testing.T) {
	c := client(t, redistest.Start(t).URL(), false)
	const b = 1000
	runSteps(t, c, []step{
		{0, delta(0, "203.0.113.1", b, 10, b, 10), 0, 10},
		{1, delta(0, "203.0.113.1", b, 7, b, 7), 10, 17},
		{0, delta(0, "203.0.113.1", b+1, 15, b, 2, b+1, 3), 7, 22},
		{1, delta(0, "203.0.113.1", b+12, 18, b+12, 1), 5, 23}, // ring b..b+12: all count
		{1, delta(0, "203.0.113.1", b+13, 4, b+13, 1), 1, 5},   // b has left the ring: 3 + 1 + 1
		{0, delta(0, "203.0.113.1", b+13, 4, b+13, 0), 1, 5},   // nothing new: reads the count
	})
	ttl := c.PTTL(context.Background(), keys.Count(netip.MustParseAddr("203.0.113.1"), "flood")).Val()
	if ttl <= 0 || ttl > 14*5*time.Second {
		t.Errorf("count key TTL %v, want in (0, 70s]: the window and a bucket", ttl)
	}
}

// TestRoundTumbling: a tumbling rule counts the head batch alone.
func TestRoundTumbling(t *testing.T) {
	c := client(t, redistest.Start(t).URL(), false)
	runSteps(t, c, []step{
		{0, delta(1, "2001:db8::7", 100, 5, 100, 5), 0, 5},
		{1, delta(1, "2001:db8::7", 100, 4, 100, 4), 5, 9},
		{0, delta(1, "2001:db8::7", 101, 2, 100, 1, 101, 2), 0, 2}, // a late record in 100, the new batch 101
		{1, delta(1, "2001:db8::7", 100, 5, 100, 1), 6, 11},        // a late record of batch 100
	})
}

// TestRoundBoundsFields: an address counted for hours keeps about two
// rings of fields, never one per bucket it ever used.
func TestRoundBoundsFields(t *testing.T) {
	c := client(t, redistest.Start(t).URL(), false)
	s := NewSyncer(c, keys, []Rule{sliding}, 5*time.Second, 100, false)
	for b := int64(0); b < 500; b++ {
		if _, err := s.Round(context.Background(), []Delta{delta(0, "203.0.113.9", b, 1, b, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.HLen(context.Background(), keys.Count(netip.MustParseAddr("203.0.113.9"), "flood")).Val(); n > 3*13 {
		t.Errorf("count hash holds %d fields after 500 buckets, want at most 3 rings", n)
	}
}

// TestRoundHeldWhileDown: with Redis gone the deltas are held, up to the
// bound, and sent when it is back.
func TestRoundHeldWhileDown(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv.URL(), false)
	s := NewSyncer(c, keys, []Rule{sliding}, time.Second, 3, false)
	srv.Stop()
	in := []Delta{delta(0, "203.0.113.1", 5, 1, 5, 1), delta(0, "203.0.113.2", 5, 2, 5, 2)}
	for i := 0; i < 2; i++ {
		if _, err := s.Round(context.Background(), in); err == nil {
			t.Fatal("Round with Redis stopped: no error")
		}
	}
	if s.Held() != 3 || s.Dropped() != 1 {
		t.Fatalf("held %d dropped %d, want 3 and 1", s.Held(), s.Dropped())
	}
	srv.Restart()
	res, err := s.Round(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range res.Remotes {
		got[r.Addr.String()] = r.Global
	}
	if got["203.0.113.1"] != 2 || got["203.0.113.2"] != 2 || s.Held() != 0 {
		t.Errorf("after recovery: global %v held %d, want .1: 2 (held twice), .2: 2 (one dropped), none held", got, s.Held())
	}
}

// TestScriptKeysShareASlot: every key set one script touches hashes to one
// cluster slot (asked of a cluster-enabled redis-server, CLUSTER KEYSLOT),
// for IPv4, IPv6 and every rule name; keys of different addresses spread.
func TestScriptKeysShareASlot(t *testing.T) {
	srv := redistest.Start(t, "--cluster-enabled", "yes")
	c := client(t, srv.URL(), false)
	ctx := context.Background()
	slots := map[int64]bool{}
	for _, a := range []string{"203.0.113.1", "198.51.100.77", "2001:db8::1", "2001:db8:ffff::abcd", "::ffff:1.2.3.4"} {
		addr := netip.MustParseAddr(a)
		ks := []string{keys.Count(addr, "flood"), keys.Count(addr, "rule with spaces"), keys.Count(addr, "{odd}"),
			keys.Claim(addr), keys.Detect(addr, "scan")}
		want := c.ClusterKeySlot(ctx, ks[0]).Val()
		for _, k := range ks {
			if got, err := c.ClusterKeySlot(ctx, k).Result(); err != nil || got != want {
				t.Errorf("slot of %q = %d (%v), want %d like %q", k, got, err, want, ks[0])
			}
		}
		slots[want] = true
	}
	if len(slots) < 4 {
		t.Errorf("5 addresses in %d slots: the hash tag is not the address", len(slots))
	}
}

// BenchmarkRound10k: one sync round of 10,000 active addresses (one rule):
// time per round, and bytes sent to and received from Redis per round.
func BenchmarkRound10k(b *testing.B) {
	srv := redistest.Start(b)
	c := client(b, srv.URL(), false)
	s := NewSyncer(c, keys, []Rule{sliding}, 30*time.Second, 20000, true)
	in := make([]Delta, 10000)
	for i := range in {
		in[i] = delta(0, netip.AddrFrom4([4]byte{45, byte(i >> 8), byte(i), 1}).String(), 1000, 3, 1000, 3)
	}
	ctx := context.Background()
	if _, err := s.Round(ctx, in); err != nil { // loads the script
		b.Fatal(err)
	}
	before := netBytes(b, c)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Round(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after := netBytes(b, c)
	b.ReportMetric(float64(after[0]-before[0])/float64(b.N), "bytes-sent/round")
	b.ReportMetric(float64(after[1]-before[1])/float64(b.N), "bytes-received/round")
}

// BenchmarkMemoryPerAddress: Redis's used_memory per tracked address, for
// a sliding rule with 3 buckets counted (a steady client) and a tumbling
// one, 10,000 addresses each.
func BenchmarkMemoryPerAddress(b *testing.B) {
	for _, ru := range []Rule{sliding, tumbling} {
		b.Run(ru.Name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				srv := redistest.Start(b)
				c := client(b, srv.URL(), false)
				s := NewSyncer(c, keys, []Rule{ru}, 30*time.Second, 20000, false)
				ctx := context.Background()
				base := usedMemory(b, c)
				in := make([]Delta, 10000)
				for j := range in {
					in[j] = delta(0, netip.AddrFrom4([4]byte{45, byte(j >> 8), byte(j), 1}).String(), 1001, 3, 999, 1, 1001, 2)
				}
				if _, err := s.Round(ctx, in); err != nil {
					b.Fatal(err)
				}
				if n := c.DBSize(ctx).Val(); n != 10000 {
					b.Fatalf("%d keys, want 10000", n)
				}
				b.ReportMetric(float64(usedMemory(b, c)-base)/10000, "bytes/address")
				srv.Stop()
			}
		})
	}
}

func usedMemory(b *testing.B, c redis.UniversalClient) int64 {
	return infoField(b, c, "memory", "used_memory")[0]
}

func netBytes(b *testing.B, c redis.UniversalClient) [2]int64 {
	v := infoField(b, c, "stats", "total_net_input_bytes", "total_net_output_bytes")
	return [2]int64{v[0], v[1]}
}

func infoField(b *testing.B, c redis.UniversalClient, section string, fields ...string) []int64 {
	b.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		b.Fatal(err)
	}
	out := make([]int64, len(fields))
	for i, f := range fields {
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, f+":"); ok {
				out[i], _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
	}
	return out
}

var _ = fmt.Sprint
