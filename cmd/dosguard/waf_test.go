package main

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/enforce"
	"github.com/dosguard/dosguard/store"
	"github.com/dosguard/dosguard/target"
	"github.com/dosguard/dosguard/wafipset"
	"github.com/dosguard/dosguard/wafipset/waftest"
)

// TestACLWAF: list, unblock and flush cover the IP sets; a member dosguard
// did not add is listed as such and stays through unblock and flush.
func TestACLWAF(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCLITEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "cli-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := waftest.NewServer(t)
	arn := srv.AddSet(waftest.Regional, "dosguard-v4", "id4", "IPV4", "192.0.2.50/32")
	state := filepath.Join(t.TempDir(), "dosguard.state")
	sets, err := wafipset.New(wafipset.Config{ARNs: []string{arn}}, func(r string) wafipset.WAFAPI { return srv.Client(t, r) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := enforce.New(enforce.Config{}, []target.Target{sets[0]}, store.File{Path: state}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, a := range []string{"198.51.100.1", "198.51.100.2"} {
		m.Block(context.Background(), netip.MustParseAddr(a), t0, time.Hour)
	}
	flags := []string{"-p", "WAF_Endpoint=" + srv.URL(), "-p", "WAF_IP_Set_ARN=" + arn,
		"-p", "Threshold=1", "-p", "Region=us-east-1", "-p", "State_File=" + state}
	members := func() []string { return srv.Addresses(waftest.Regional, "dosguard-v4", "id4") }

	out, err := runACL(t, append([]string{"list"}, flags...)...)
	if err != nil {
		t.Fatalf("acl list: %v", err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	want := []string{
		"ADDRESS ACL:RULE SINCE EXPIRES OFFENCES",
		"192.0.2.50/32 " + arn + " - - - not dosguard's",
		"198.51.100.1/32 " + arn + " 2025-03-01T12:00:00Z 2025-03-01T13:00:00Z 1",
		"198.51.100.2/32 " + arn + " 2025-03-01T12:00:00Z 2025-03-01T13:00:00Z 1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("acl list =\n%s\nwant rows\n%s", out, strings.Join(want, "\n"))
	}

	out, err = runACL(t, append([]string{"unblock", "192.0.2.50"}, flags...)...)
	if err != nil || !strings.Contains(out, "nothing to do") {
		t.Errorf("acl unblock of another writer's member: %q, %v", out, err)
	}
	out, err = runACL(t, append([]string{"unblock", "198.51.100.1"}, flags...)...)
	if want := "unblocked 198.51.100.1/32 " + arn + " (by hand)\n"; err != nil || out != want {
		t.Errorf("acl unblock printed %q, %v; want %q", out, err, want)
	}
	if got, want := members(), []string{"192.0.2.50/32", "198.51.100.2/32"}; !slices.Equal(got, want) {
		t.Errorf("after unblock the set holds %v, want %v", got, want)
	}
	out, err = runACL(t, append([]string{"flush"}, flags...)...)
	if want := "unblocked 198.51.100.2/32 " + arn + " (flushed)\n"; err != nil || out != want {
		t.Errorf("acl flush printed %q, %v; want %q", out, err, want)
	}
	if got, want := members(), []string{"192.0.2.50/32"}; !slices.Equal(got, want) {
		t.Errorf("after flush the set holds %v, want %v", got, want)
	}
}
