package enforce_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/ban"
	"github.com/dosguard/dosguard/enforce"
)

// TestWriteOutcomeUnknown: a create EC2 applied but whose answer was an
// error or lost is dosguard's own entry: blocked (not "already denied"),
// and removed when the ban expires.
func TestWriteOutcomeUnknown(t *testing.T) {
	tests := []struct {
		name  string
		fault func(srv *acltest.Server)
	}{
		{"500 after applying, retried into AlreadyExists", func(srv *acltest.Server) {
			srv.FailAfter(acltest.CreateNetworkAclEntry, "InternalError", 500, 1)
		}},
		{"500 after applying, every retry 500", func(srv *acltest.Server) {
			srv.FailAfter(acltest.CreateNetworkAclEntry, "InternalError", 500, 1)
			srv.Fail(acltest.CreateNetworkAclEntry, "InternalError", 500, 4)
		}},
		{"answer cut off after applying", func(srv *acltest.Server) {
			srv.Cut(acltest.CreateNetworkAclEntry, 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := acltest.NewServer()
			defer srv.Close()
			srv.DefaultACL("acl-1")
			m := newManager(t, srv, config{BlockDuration: time.Hour})
			ctx := context.Background()
			tt.fault(srv)
			if got, want := short(m.Block(ctx, addr(1), t0)), []string{"blocked 198.51.1.9/32 acl-1:1"}; !slices.Equal(got, want) {
				t.Fatalf("Block = %q, want %q", got, want)
			}
			if b := m.Bans(); len(b) != 1 || !b[0].Owned() {
				t.Errorf("bans %+v, want one of dosguard's own", b)
			}
			consistent(t, srv, m)
			if got, want := short(m.Expire(ctx, at(time.Hour))), []string{"unblocked 198.51.1.9/32 [expired] acl-1:1"}; !slices.Equal(got, want) {
				t.Errorf("Expire = %q, want %q", got, want)
			}
			if got := naclState(srv, "acl-1"); len(got) != 0 {
				t.Errorf("after expiry the ACL holds %v, want nothing: the entry was dosguard's", got)
			}
		})
	}
}

// onCreateInACL2 sets up acl-1..acl-3 and runs fault at each create in acl-2.
func onCreateInACL2(fault func(srv *acltest.Server)) func(srv *acltest.Server) {
	return func(srv *acltest.Server) {
		for _, id := range []string{"acl-1", "acl-2", "acl-3"} {
			srv.DefaultACL(id)
		}
		srv.OnCall(func(action string, form url.Values) {
			if action == acltest.CreateNetworkAclEntry && form.Get("NetworkAclId") == "acl-2" {
				fault(srv)
			}
		})
	}
}

// TestRollback: with several ACLs a block is all or nothing: when one ACL
// refuses, what the block created in the others is deleted again and
// nothing else is touched; a create applied but answered 500 is no
// failure.
func TestRollback(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(srv *acltest.Server)
		want       []string
		wantDenies map[string][]string
	}{
		{
			name:       "second ACL does not exist",
			setup:      func(srv *acltest.Server) { srv.DefaultACL("acl-1"); srv.DefaultACL("acl-3") },
			want:       []string{"failed to block 203.0.113.7/32 [InvalidNetworkAclID.NotFound]"},
			wantDenies: map[string][]string{"acl-1": nil, "acl-3": {"203.0.113.7/32 1"}},
		},
		{
			name: "create refused in second ACL",
			setup: onCreateInACL2(func(srv *acltest.Server) {
				srv.Fail(acltest.CreateNetworkAclEntry, "UnauthorizedOperation", 403, 1)
			}),
			want:       []string{"failed to block 203.0.113.7/32 [UnauthorizedOperation]"},
			wantDenies: map[string][]string{"acl-1": nil, "acl-2": nil, "acl-3": {"203.0.113.7/32 1"}},
		},
		{
			name: "create in second ACL applied but answered 500",
			setup: onCreateInACL2(func(srv *acltest.Server) {
				srv.SetEntry("acl-2", deny(1, "203.0.113.7/32"))
				srv.Fail(acltest.CreateNetworkAclEntry, "InternalError", 500, 1)
			}),
			want:       []string{"blocked 203.0.113.7/32 acl-1:1 acl-2:1"},
			wantDenies: map[string][]string{"acl-1": {"203.0.113.7/32 1"}, "acl-2": {"203.0.113.7/32 1"}, "acl-3": {"203.0.113.7/32 1"}},
		},
		{
			name: "existing entry in first ACL is kept",
			setup: func(srv *acltest.Server) {
				srv.DefaultACL("acl-1")
				srv.SetEntry("acl-1", deny(5, "203.0.113.7/32"))
				srv.DefaultACL("acl-3")
			},
			want:       []string{"failed to block 203.0.113.7/32 [InvalidNetworkAclID.NotFound]"},
			wantDenies: map[string][]string{"acl-1": {"203.0.113.7/32 5"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := acltest.NewServer()
			defer srv.Close()
			tt.setup(srv)
			// acl-3 is not managed: a prior entry there must survive.
			if srv.Entries("acl-3") != nil {
				srv.SetEntry("acl-3", deny(1, "203.0.113.7/32"))
			}
			m := newManager(t, srv, config{ACLIDs: []string{"acl-1", "acl-2"}})
			evs := m.Block(context.Background(), netip.MustParseAddr("203.0.113.7"), t0)
			if got := short(evs); !slices.Equal(got, tt.want) {
				t.Fatalf("Block = %q, want %q", got, tt.want)
			}
			for id, want := range tt.wantDenies {
				if got := naclState(srv, id); !slices.Equal(got, want) {
					t.Errorf("%s ingress denies = %v, want %v", id, got, want)
				}
			}
		})
	}
}

// TestReconcile: every round lists each ACL once and repairs drift: a 200
// answer with nothing written is written again, an entry removed by hand
// is forgotten and notified, one removed from one ACL of two is written
// again, an unknown entry is adopted.
func TestReconcile(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.DefaultACL("acl-2")
	ids := []string{"acl-1", "acl-2"}
	m := newManager(t, srv, config{ACLIDs: ids, BlockDuration: time.Hour})
	ctx := context.Background()
	if _, err := m.Start(ctx, t0, true); err != nil {
		t.Fatal(err)
	}
	srv.Drop(acltest.CreateNetworkAclEntry, 1) // acl-1 answers 200, writes nothing
	m.Block(ctx, addr(1), t0)
	m.Block(ctx, addr(2), t0)
	m.Block(ctx, addr(3), t0)
	if got := naclState(srv, "acl-1"); slices.Contains(got, "198.51.1.9/32 1") {
		t.Fatalf("acl-1 holds %v: the dropped create was applied", got)
	}
	// Round 1: the entry reported written but never seen is written again.
	if evs, err := m.Reconcile(ctx, at(time.Minute)); err != nil || len(evs) != 0 {
		t.Errorf("Reconcile = %q, %v; want no event", short(evs), err)
	}
	consistent(t, srv, m, ids...)
	if got := naclState(srv, "acl-1"); !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "198.51.1.9/32 ") }) {
		t.Errorf("acl-1 holds %v: the dropped entry of 198.51.1.9 was not written again", got)
	}

	// Round 2: addr(2) removed by hand everywhere, addr(3) from acl-2 only,
	// and an entry dosguard never made.
	rule := func(id string, a netip.Addr) int {
		for _, b := range m.Bans() {
			for _, e := range b.Entries {
				if b.Prefix.Addr() == a && e.Target == id {
					return e.Rule
				}
			}
		}
		t.Fatalf("no entry of %s in %s", a, id)
		return 0
	}
	r2a, r2b, r3b := rule("acl-1", addr(2)), rule("acl-2", addr(2)), rule("acl-2", addr(3))
	deleteByHand(t, srv, "acl-1", r2a)
	deleteByHand(t, srv, "acl-2", r2b)
	deleteByHand(t, srv, "acl-2", r3b)
	srv.SetEntry("acl-1", deny(40, "192.0.2.40/32"))
	evs, err := m.Reconcile(ctx, at(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("unblocked 198.51.2.9/32 [removed by hand from the NACL] acl-1:%d acl-2:%d", r2a, r2b),
		"blocked 192.0.2.40/32 [adopted] acl-1:40",
	}
	if got := short(evs); !slices.Equal(got, want) {
		t.Errorf("Reconcile = %q, want %q", got, want)
	}
	consistent(t, srv, m, ids...)
	if got := naclState(srv, "acl-2"); !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "198.51.3.9/32 ") }) {
		t.Errorf("acl-2 holds %v: the entry of 198.51.3.9 removed from one ACL was not written again", got)
	}
	// Re-adding may describe again; a round with no drift is one Describe per ACL.
	describes, calls := srv.CallCount(acltest.DescribeNetworkAcls), srv.CallCount("*")
	if evs, err := m.Reconcile(ctx, at(3*time.Minute)); err != nil || len(evs) != 0 {
		t.Errorf("third Reconcile = %q, %v; want nothing", short(evs), err)
	}
	if n := srv.CallCount(acltest.DescribeNetworkAcls) - describes; n != len(ids) {
		t.Errorf("a round without drift made %d Describe calls, want %d (one per ACL)", n, len(ids))
	}
	if n := srv.CallCount("*") - calls; n != len(ids) {
		t.Errorf("a round without drift made %d calls, want %d Describe only", n, len(ids))
	}
}

// TestExpiresFromWrite: a ban's expiry counts from when its write
// succeeded, not from when the decision began.
func TestExpiresFromWrite(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	clock := t0
	srv.OnCall(func(action string, _ url.Values) {
		if action == acltest.CreateNetworkAclEntry {
			clock = clock.Add(7 * time.Second) // throttled for 7s
		}
	})
	m := newManager(t, srv, config{BlockDuration: time.Hour, Now: func() time.Time { return clock }})
	evs := m.Block(context.Background(), addr(1), t0)
	if want := at(7*time.Second + time.Hour); len(evs) != 1 || !evs[0].ExpiresAt.Equal(want) || !evs[0].Since.Equal(at(7*time.Second)) {
		t.Errorf("Block = %+v, want since t0+7s, expires %v", evs, want)
	}
}

// TestTransient: failures that may pass within seconds are marked
// Transient; definite refusals are not.
func TestTransient(t *testing.T) {
	tests := []struct {
		name          string
		setup         func(srv *acltest.Server)
		cfg           config
		wantReason    string
		wantTransient bool
	}{
		{"throttled", func(srv *acltest.Server) { srv.Fail("*", "RequestLimitExceeded", 503, 10) }, config{}, "RequestLimitExceeded", true},
		{"5xx", func(srv *acltest.Server) { srv.Fail(acltest.CreateNetworkAclEntry, "InternalError", 500, 10) }, config{}, "InternalError", true},
		{"access denied", func(srv *acltest.Server) { srv.DenyWrites(true) }, config{}, "UnauthorizedOperation", false},
		{"quota full", func(srv *acltest.Server) { srv.SetQuota(2) }, config{OnFull: "refuse", EntryLimit: 3}, "no free rule number", false},
		{"rate limit", func(*acltest.Server) {}, config{MaxBlocksPerMinute: 1}, "rate limit", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := acltest.NewServer()
			defer srv.Close()
			srv.DefaultACL("acl-1")
			m := newManager(t, srv, tt.cfg)
			ctx := context.Background()
			if tt.name == "rate limit" || tt.name == "quota full" {
				m.Block(ctx, addr(9), t0)
			}
			tt.setup(srv)
			evs := m.Block(ctx, addr(1), t0)
			e := evs[len(evs)-1]
			if e.Status != ban.Failed || e.Text() != tt.wantReason || e.Transient != tt.wantTransient {
				t.Errorf("Block = %s %q transient %v, want failed %q transient %v", e.Status, e.Text(), e.Transient, tt.wantReason, tt.wantTransient)
			}
		})
	}
}

// TestStartUnavailable: timeouts, throttling and 5xx at start are
// ErrUnavailable; a missing ACL or access denied are not.
func TestStartUnavailable(t *testing.T) {
	tests := []struct {
		name            string
		setup           func(srv *acltest.Server)
		check           bool
		wantUnavailable bool
		want            string
	}{
		{"describe throttled", func(srv *acltest.Server) { srv.Fail(acltest.DescribeNetworkAcls, "RequestLimitExceeded", 503, 10) }, false, true, "acl: describe network ACL acl-1: RequestLimitExceeded"},
		{"describe 5xx", func(srv *acltest.Server) { srv.Fail(acltest.DescribeNetworkAcls, "InternalError", 500, 10) }, true, true, "acl: describe network ACL acl-1: InternalError"},
		{"probe 5xx", func(srv *acltest.Server) { srv.Fail(acltest.CreateNetworkAclEntry, "ServiceUnavailable", 503, 10) }, true, true, "acl: credentials may not write network ACL acl-1: ServiceUnavailable"},
		{"ACL missing", func(srv *acltest.Server) { srv.AddACL("acl-9") }, false, false, "acl: network ACL acl-2 not found (Network_ACL_ID)"},
		{"access denied", func(srv *acltest.Server) { srv.DenyWrites(true) }, true, false, "acl: credentials may not write network ACL acl-1: UnauthorizedOperation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := acltest.NewServer()
			defer srv.Close()
			srv.DefaultACL("acl-1")
			ids := []string{"acl-1"}
			if tt.name == "ACL missing" {
				ids = append(ids, "acl-2")
			}
			m := newManager(t, srv, config{ACLIDs: ids})
			tt.setup(srv)
			_, err := m.Start(context.Background(), t0, tt.check)
			if err == nil || errors.Is(err, enforce.ErrUnavailable) != tt.wantUnavailable || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Start = %v (unavailable %v), want %q, unavailable %v", err, errors.Is(err, enforce.ErrUnavailable), tt.want, tt.wantUnavailable)
			}
		})
	}
}

// TestStartTimeout: a Describe that does not answer within CallTimeout at
// start is ErrUnavailable.
func TestStartTimeout(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	release := srv.Stall(acltest.DescribeNetworkAcls)
	defer release()
	m := newManager(t, srv, config{CallTimeout: 50 * time.Millisecond})
	_, err := m.Start(context.Background(), t0, false)
	if !errors.Is(err, enforce.ErrUnavailable) || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("Start = %v, want a timeout matching ErrUnavailable", err)
	}
}

// TestProbeIgnoredDryRun: an endpoint that ignores DryRun gets the probe
// entry deleted at once, with a warning.
func TestProbeIgnoredDryRun(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.IgnoreDryRun(true)
	var logs bytes.Buffer
	m := newManager(t, srv, config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := m.Start(context.Background(), t0, true); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got := naclState(srv, "acl-1"); len(got) != 0 {
		t.Errorf("the probe left %v in the ACL", got)
	}
	if n := srv.CallCount(acltest.DeleteNetworkAclEntry); n != 1 {
		t.Errorf("Delete calls = %d, want 1 (the probe entry)", n)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "ignored DryRun") {
		t.Errorf("no warning about the ignored DryRun in the logs:\n%s", &logs)
	}
}
