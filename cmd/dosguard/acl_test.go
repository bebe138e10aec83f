package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dosguard/dosguard/acl"
	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/enforce"
	"github.com/dosguard/dosguard/store"
	"github.com/dosguard/dosguard/target"
)

const testACL = "acl-0123456789abcdef0"

// aclEnv starts a local EC2 endpoint holding testACL with two bans made by
// a Manager (recorded in a State_File) and one entry dosguard never made,
// and returns it with the -p flags pointing the CLI at it.
func aclEnv(t *testing.T) (*acltest.Server, []string, string) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCLITEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "cli-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := acltest.NewServer()
	t.Cleanup(srv.Close)
	srv.DefaultACL(testACL)
	state := filepath.Join(t.TempDir(), "dosguard.state")
	m := enforcer(t, srv, state)
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, a := range []string{"198.51.100.1", "198.51.100.2"} {
		m.Block(context.Background(), netip.MustParseAddr(a), t0, time.Hour)
	}
	srv.SetEntry(testACL, acltest.Entry{RuleNumber: 50, Protocol: "-1", RuleAction: "deny", CIDR: "192.0.2.50/32"})
	flags := []string{"-p", "EC2_Endpoint=" + srv.URL(), "-p", "Network_ACL_ID=" + testACL,
		"-p", "Threshold=1", "-p", "Region=us-east-1", "-p", "State_File=" + state}
	return srv, flags, state
}

// enforcer is an Enforcer of testACL on srv remembering in state.
func enforcer(t *testing.T, srv *acltest.Server, state string) *enforce.Enforcer {
	t.Helper()
	nacls, err := acl.New(acl.Config{ACLIDs: []string{testACL}}, srv.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := enforce.New(enforce.Config{}, []target.Target{nacls[0]}, store.File{Path: state}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func denied(srv *acltest.Server) []string {
	var out []string
	for _, e := range srv.Entries(testACL) {
		if !e.Egress && e.RuleAction == "deny" && e.RuleNumber != acltest.DefaultRuleNumber {
			out = append(out, e.CIDR)
		}
	}
	slices.Sort(out)
	return out
}

func runACL(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := aclCommand(args, &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return stdout.String(), err
}

func TestACLList(t *testing.T) {
	srv, flags, _ := aclEnv(t)
	out, err := runACL(t, append([]string{"list"}, flags...)...)
	if err != nil {
		t.Fatalf("acl list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"ADDRESS ACL:RULE SINCE EXPIRES OFFENCES",
		"198.51.100.1/32 " + testACL + ":1 2025-03-01T12:00:00Z 2025-03-01T13:00:00Z 1",
		"198.51.100.2/32 " + testACL + ":2 2025-03-01T12:00:00Z 2025-03-01T13:00:00Z 1",
		"192.0.2.50/32 " + testACL + ":50 - - - unmanaged",
	}
	var got []string
	for _, l := range lines {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	if !slices.Equal(got, want) {
		t.Errorf("acl list =\n%s\nwant rows\n%s", out, strings.Join(want, "\n"))
	}
	if n := srv.CallCount(acltest.CreateNetworkAclEntry) + srv.CallCount(acltest.DeleteNetworkAclEntry); n != 2 {
		t.Errorf("list made writes: %d Create/Delete calls in all, want the 2 of the setup", n)
	}
}

func TestACLUnblock(t *testing.T) {
	srv, flags, state := aclEnv(t)
	// --dry-run: printed, nothing changed; flags may follow the address.
	out, err := runACL(t, append([]string{"unblock", "198.51.100.1", "--dry-run"}, flags...)...)
	if err != nil {
		t.Fatalf("acl unblock --dry-run: %v", err)
	}
	if want := "would be unblocked 198.51.100.1/32 " + testACL + ":1 (by hand) [dry-run: nothing changed]\n"; out != want {
		t.Errorf("acl unblock --dry-run printed %q, want %q", out, want)
	}
	if got := denied(srv); len(got) != 3 {
		t.Fatalf("after --dry-run the ACL holds %v, want the 3 entries", got)
	}

	out, err = runACL(t, append(append([]string{"unblock"}, flags...), "198.51.100.1")...)
	if err != nil {
		t.Fatalf("acl unblock: %v", err)
	}
	if want := "unblocked 198.51.100.1/32 " + testACL + ":1 (by hand)\n"; out != want {
		t.Errorf("acl unblock printed %q, want %q", out, want)
	}
	if got, want := denied(srv), []string{"192.0.2.50/32", "198.51.100.2/32"}; !slices.Equal(got, want) {
		t.Errorf("after unblock the ACL holds %v, want %v", got, want)
	}
	// The state file no longer has the ban.
	m := enforcer(t, srv, state)
	m.Load()
	var bans []string
	for _, b := range m.Bans() {
		bans = append(bans, b.Prefix.String())
	}
	if !slices.Equal(bans, []string{"198.51.100.2/32"}) {
		t.Errorf("state file bans = %v, want [198.51.100.2/32]", bans)
	}

	// An unmanaged entry can be unblocked by hand too.
	if _, err := runACL(t, append([]string{"unblock", "192.0.2.50/32"}, flags...)...); err != nil {
		t.Fatal(err)
	}
	if got := denied(srv); !slices.Equal(got, []string{"198.51.100.2/32"}) {
		t.Errorf("after unblocking the unmanaged entry the ACL holds %v", got)
	}
}

func TestACLFlush(t *testing.T) {
	srv, flags, _ := aclEnv(t)
	out, err := runACL(t, append([]string{"flush", "--dry-run"}, flags...)...)
	if err != nil {
		t.Fatalf("acl flush --dry-run: %v", err)
	}
	if n := strings.Count(out, "would be unblocked"); n != 2 || len(denied(srv)) != 3 {
		t.Errorf("flush --dry-run printed %q (%d lines) and left %v; want 2 lines, 3 entries", out, n, denied(srv))
	}
	out, err = runACL(t, append([]string{"flush"}, flags...)...)
	if err != nil {
		t.Fatalf("acl flush: %v", err)
	}
	if n := strings.Count(out, "unblocked 198.51.100."); n != 2 {
		t.Errorf("flush printed %q, want 2 unblocked lines", out)
	}
	if got := denied(srv); !slices.Equal(got, []string{"192.0.2.50/32"}) {
		t.Errorf("after flush the ACL holds %v, want only the entry dosguard never made", got)
	}
	out, err = runACL(t, append([]string{"flush"}, flags...)...)
	if err != nil || !strings.Contains(out, "nothing to do") {
		t.Errorf("second flush = %q, %v; want nothing to do", out, err)
	}
}

func TestACLUsage(t *testing.T) {
	aclEnv(t)
	tests := []struct {
		args []string
		want string
	}{
		{nil, "want a command"},
		{[]string{"drop"}, `unknown command "drop"`},
		{[]string{"unblock"}, "exactly one address"},
		{[]string{"unblock", "not-an-ip"}, "not an IP address"},
		{[]string{"unblock", "0.0.0.0/0"}, "use flush"},
		{[]string{"list", "extra"}, "unexpected argument"},
		{[]string{"list", "-p", "Threshold=1"}, "Network_ACL_ID is not set"},
	}
	for _, tt := range tests {
		_, err := runACL(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("acl %q: error %v, want one with %q", tt.args, err, tt.want)
		}
	}
	if _, err := runACL(t, "-h"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("acl -h: %v, want flag.ErrHelp", err)
	}
}

// TestACLWhateverTheRulesDo runs the acl commands with configs whose rules
// only detect: they manage the NACL, so the rules' actions do not matter
// (`acl list -p Action=detect` failed with "acl: EC2API is nil").
func TestACLWhateverTheRulesDo(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("- name: scan\n  action: detect\n  threshold: 5\n- name: detect.login\n  threshold: 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		props []string // replace Threshold=1
	}{
		{"Action=detect", []string{"Threshold=1", "Action=detect"}},
		{"Rule_Name=detect.x", []string{"Threshold=1", "Rule_Name=detect.x"}},
		{"detect-only Rules_File", []string{"Rules_File=" + rules}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, base, _ := aclEnv(t)
			var flags []string
			for i := 0; i < len(base); i += 2 {
				if base[i+1] != "Threshold=1" {
					flags = append(flags, base[i], base[i+1])
				}
			}
			for _, p := range tt.props {
				flags = append(flags, "-p", p)
			}
			out, err := runACL(t, append([]string{"list"}, flags...)...)
			if err != nil {
				t.Fatalf("acl list: %v", err)
			}
			for _, want := range []string{"198.51.100.1/32 ", "198.51.100.2/32 ", "192.0.2.50/32 "} {
				if !strings.Contains(out, want) {
					t.Errorf("acl list =\n%s\nwant a row for %s", out, want)
				}
			}
			if _, err := runACL(t, append([]string{"flush"}, flags...)...); err != nil {
				t.Fatalf("acl flush: %v", err)
			}
			if got := denied(srv); !slices.Equal(got, []string{"192.0.2.50/32"}) {
				t.Errorf("after flush the ACL holds %v, want only the entry dosguard never made", got)
			}
		})
	}
}
