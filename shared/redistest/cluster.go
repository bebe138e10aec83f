package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartCluster starts a Redis Cluster of n masters on free loopback ports
// (no replicas): the 16384 slots split evenly, the nodes introduced to one
// another, ready when every node reports cluster_state:ok.
func StartCluster(t testing.TB, n int) []*Server {
	t.Helper()
	ctx := context.Background()
	nodes := make([]*Server, n)
	clients := make([]*redis.Client, n)
	for i := range nodes {
		nodes[i] = Start(t, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000")
		clients[i] = redis.NewClient(&redis.Options{Addr: nodes[i].Addr(), DisableIdentity: true})
		defer clients[i].Close()
	}
	const slots = 16384
	for i, c := range clients {
		lo, hi := i*slots/n, (i+1)*slots/n-1
		if err := c.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			t.Fatalf("redistest: node %d: CLUSTER ADDSLOTSRANGE %d %d: %v", i, lo, hi, err)
		}
	}
	for i := 1; i < n; i++ {
		if err := clients[0].ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(nodes[i].Port)).Err(); err != nil {
			t.Fatalf("redistest: CLUSTER MEET node %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for i, c := range clients {
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: node %d not ready: %v %s", i, err, info)
			}
			time.Sleep(20 * time.Millisecond) // polling the cluster's readiness
		}
	}
	return nodes
}
