package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/enforce"
	"github.com/dosguard/dosguard/shared"
	"github.com/dosguard/dosguard/shared/redistest"
	"github.com/dosguard/dosguard/target"
)

// TestACLSharedBans: with Redis_URL and no State_File, `acl list` shows
// the bans the instances share, and `acl unblock` lifts one for all of
// them: it is gone from Redis too.
func TestACLSharedBans(t *testing.T) {
	srv, flags, _ := aclEnv(t)
	flags = flags[:len(flags)-2] // no State_File
	rs := redistest.Start(t)
	flags = append(flags, "-p", "Redis_URL="+rs.URL())
	// An instance's ban, remembered in Redis.
	client, err := shared.NewClient(conf.Redis{URL: rs.URL(), Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	bans := shared.NewBans(client, shared.Keys{Prefix: conf.DefaultRedisKeyPrefix}, 5*time.Second)
	nacls, err := acl.New(acl.Config{ACLIDs: []string{testACL}}, srv.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := enforce.New(enforce.Config{}, []target.Target{nacls[0]}, bans, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	m.Block(context.Background(), netip.MustParseAddr("203.0.113.70"), t0, time.Hour)

	out, err := runACL(t, append([]string{"list"}, flags...)...)
	if err != nil {
		t.Fatalf("acl list: %v", err)
	}
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "203.0.113.70/32 "+testACL+":3 2025-03-01T12:00:00Z 2025-03-01T13:00:00Z 1 192.0.2.50/32") {
		t.Errorf("acl list does not show the shared ban as managed:\n%s", out)
	}
	out, err = runACL(t, append([]string{"unblock", "203.0.113.70"}, flags...)...)
	if err != nil || !strings.HasPrefix(out, "unblocked 203.0.113.70/32") {
		t.Fatalf("acl unblock = %q, %v", out, err)
	}
	n, err := client.HLen(context.Background(), conf.DefaultRedisKeyPrefix+"bans").Result()
	if err != nil || n != 0 {
		t.Errorf("shared bans after unblock: %d (%v), want none", n, err)
	}
	for _, cidr := range denied(srv) {
		if cidr == "203.0.113.70/32" {
			t.Error("the entry is still in the NACL")
		}
	}
}
