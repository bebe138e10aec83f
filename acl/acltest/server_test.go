package acltest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/dosguard/dosguard/acl/acltest"
)

// noRetry makes the client report the first answer.
func noRetry(o *ec2.Options) { o.Retryer = aws.NopRetryer{} }

// codeStatus returns the EC2 error code and HTTP status of err ("", 0 for nil).
func codeStatus(err error) (string, int) {
	if err == nil {
		return "", 0
	}
	code := "?"
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var re interface{ HTTPStatusCode() int }
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func entryInput(id string, n int32, egress bool, action types.RuleAction, cidr string) *ec2.CreateNetworkAclEntryInput {
	in := &ec2.CreateNetworkAclEntryInput{
		NetworkAclId: aws.String(id), RuleNumber: aws.Int32(n), Egress: aws.Bool(egress),
		Protocol: aws.String("-1"), RuleAction: action,
	}
	if strings.Contains(cidr, ":") {
		in.Ipv6CidrBlock = aws.String(cidr)
	} else {
		in.CidrBlock = aws.String(cidr)
	}
	return in
}

// TestDescribeDefaultACL reads a default ACL through the real SDK client.
func TestDescribeDefaultACL(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.AddACL("acl-2")
	c := srv.Client(t)
	out, err := c.DescribeNetworkAcls(context.Background(), &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{"acl-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.NetworkAcls) != 1 {
		t.Fatalf("got %d ACLs, want 1", len(out.NetworkAcls))
	}
	a := out.NetworkAcls[0]
	if aws.ToString(a.NetworkAclId) != "acl-1" || !aws.ToBool(a.IsDefault) || aws.ToString(a.VpcId) == "" {
		t.Errorf("ACL id %q default %v vpc %q, want acl-1, true, a VPC", aws.ToString(a.NetworkAclId), aws.ToBool(a.IsDefault), aws.ToString(a.VpcId))
	}
	var got []string
	for _, e := range a.Entries {
		cidr := aws.ToString(e.CidrBlock)
		if e.Ipv6CidrBlock != nil {
			cidr = "v6:" + *e.Ipv6CidrBlock
		}
		dir := "in"
		if aws.ToBool(e.Egress) {
			dir = "out"
		}
		got = append(got, strings.Join([]string{dir, aws.ToString(e.Protocol), string(e.RuleAction), cidr}, " ")+" "+strconv.Itoa(int(aws.ToInt32(e.RuleNumber))))
	}
	want := []string{
		"in -1 allow 0.0.0.0/0 100", "in -1 allow v6:::/0 101", "in -1 deny 0.0.0.0/0 32767", "in -1 deny v6:::/0 32767",
		"out -1 allow 0.0.0.0/0 100", "out -1 allow v6:::/0 101", "out -1 deny 0.0.0.0/0 32767", "out -1 deny v6:::/0 32767",
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries\n%q\nwant\n%q", got, want)
	}

	// All ACLs, and filters.
	tests := []struct {
		in   *ec2.DescribeNetworkAclsInput
		want []string
	}{
		{&ec2.DescribeNetworkAclsInput{}, []string{"acl-1", "acl-2"}},
		{&ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{"acl-2", "acl-1"}}, []string{"acl-2", "acl-1"}},
		{&ec2.DescribeNetworkAclsInput{Filters: []types.Filter{{Name: aws.String("default"), Values: []string{"true"}}}}, []string{"acl-1"}},
		{&ec2.DescribeNetworkAclsInput{Filters: []types.Filter{{Name: aws.String("network-acl-id"), Values: []string{"acl-9", "acl-2"}}}}, []string{"acl-2"}},
	}
	for i, tt := range tests {
		out, err := c.DescribeNetworkAcls(context.Background(), tt.in)
		if err != nil {
			t.Errorf("case %d: %v", i, err)
			continue
		}
		var ids []string
		for _, a := range out.NetworkAcls {
			ids = append(ids, aws.ToString(a.NetworkAclId))
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("case %d: ACLs %v, want %v", i, ids, tt.want)
		}
	}
	if form := srv.Calls()[4].Form; form.Get("Filter.1.Name") != "network-acl-id" || form.Get("Filter.1.Value.2") != "acl-2" {
		t.Errorf("filter form = %v, want Filter.1.Name and Filter.1.Value.N", form)
	}
}

// TestErrors walks calls through the real client, each answered like AWS.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		call       func(c *ec2.Client) error
		wantCode   string
		wantStatus int
	}{
		{"describe unknown ACL", func(c *ec2.Client) error {
			_, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{"acl-9"}})
			return err
		}, "InvalidNetworkAclID.NotFound", 400},
		{"describe dry run", func(c *ec2.Client) error {
			_, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{DryRun: aws.Bool(true)})
			return err
		}, "DryRunOperation", 412},
		{"describe unsupported filter", func(c *ec2.Client) error {
			_, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []types.Filter{{Name: aws.String("owner-id"), Values: []string{"1"}}}})
			return err
		}, "InvalidParameterValue", 400},
		{"create in unknown ACL", func(c *ec2.Client) error {
			_, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-9", 1, false, types.RuleActionDeny, "203.0.113.7/32"))
			return err
		}, "InvalidNetworkAclID.NotFound", 400},
		{"create ok", func(c *ec2.Client) error {
			_, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 1, false, types.RuleActionDeny, "203.0.113.7/32"))
			return err
		}, "", 0},
		{"create same number ingress", func(c *ec2.Client) error {
			_, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 100, false, types.RuleActionDeny, "203.0.113.7/32"))
			return err
		}, "NetworkAclEntryAlreadyExists", 400},
		{"create same number other family", func(c *ec2.Client) error {
			_, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 100, false, types.RuleActionDeny, "2001:db8::7/128"))
			return err
		}, "NetworkAclEntryAlreadyExists", 400},
		{"create same number egress is fine", func(c *ec2.Client) error {
			_, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 1, true, types.RuleActionDeny, "203.0.113.7/32"))
			return err
		}, "", 0},
		{"create rule 0", func(c *ec2.Client) error {
			_, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 0, false, types.RuleActionDeny, "203.0.113.7/32"))
			return err
		}, "InvalidParameterValue", 400},
		{"create rule 32767", func(c *ec2.Client) error {
			_, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 32767, false, types.RuleActionDeny, "203.0.113.7/32"))
			return err
		}, "InvalidParameterValue", 400},
		{"create v6 in CidrBlock", func(c *ec2.Client) error {
			in := entryInput("acl-1", 5, false, types.RuleActionDeny, "203.0.113.7/32")
			in.CidrBlock = aws.String("2001:db8::7/128")
			_, err := c.CreateNetworkAclEntry(ctx, in)
			return err
		}, "InvalidParameterValue", 400},
		{"create with both CIDRs", func(c *ec2.Client) error {
			in := entryInput("acl-1", 5, false, types.RuleActionDeny, "203.0.113.7/32")
			in.Ipv6CidrBlock = aws.String("2001:db8::7/128")
			_, err := c.CreateNetworkAclEntry(ctx, in)
			return err
		}, "InvalidParameterCombination", 400},
		{"create without CIDR", func(c *ec2.Client) error {
			in := entryInput("acl-1", 5, false, types.RuleActionDeny, "203.0.113.7/32")
			in.CidrBlock = nil
			_, err := c.CreateNetworkAclEntry(ctx, in)
			return err
		}, "MissingParameter", 400},
		{"create dry run", func(c *ec2.Client) error {
			in := entryInput("acl-1", 5, false, types.RuleActionDeny, "203.0.113.7/32")
			in.DryRun = aws.Bool(true)
			_, err := c.CreateNetworkAclEntry(ctx, in)
			return err
		}, "DryRunOperation", 412},
		{"delete missing number", func(c *ec2.Client) error {
			_, err := c.DeleteNetworkAclEntry(ctx, &ec2.DeleteNetworkAclEntryInput{NetworkAclId: aws.String("acl-1"), RuleNumber: aws.Int32(7), Egress: aws.Bool(false)})
			return err
		}, "InvalidNetworkAclEntry.NotFound", 400},
		{"delete ok", func(c *ec2.Client) error {
			_, err := c.DeleteNetworkAclEntry(ctx, &ec2.DeleteNetworkAclEntryInput{NetworkAclId: aws.String("acl-1"), RuleNumber: aws.Int32(1), Egress: aws.Bool(true)})
			return err
		}, "", 0},
		{"replace missing", func(c *ec2.Client) error {
			_, err := c.ReplaceNetworkAclEntry(ctx, &ec2.ReplaceNetworkAclEntryInput{NetworkAclId: aws.String("acl-1"), RuleNumber: aws.Int32(7), Egress: aws.Bool(false), Protocol: aws.String("-1"), RuleAction: types.RuleActionDeny, CidrBlock: aws.String("198.51.100.1/32")})
			return err
		}, "InvalidNetworkAclEntry.NotFound", 400},
		{"replace ok", func(c *ec2.Client) error {
			_, err := c.ReplaceNetworkAclEntry(ctx, &ec2.ReplaceNetworkAclEntryInput{NetworkAclId: aws.String("acl-1"), RuleNumber: aws.Int32(1), Egress: aws.Bool(false), Protocol: aws.String("tcp"), RuleAction: types.RuleActionDeny, CidrBlock: aws.String("198.51.100.1/32")})
			return err
		}, "", 0},
	}
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	c := srv.Client(t, noRetry)
	for _, tt := range tests {
		code, status := codeStatus(tt.call(c))
		if code != tt.wantCode || status != tt.wantStatus {
			t.Errorf("%s: error %q status %d, want %q %d", tt.name, code, status, tt.wantCode, tt.wantStatus)
		}
	}
	var got []string
	for _, e := range srv.Entries("acl-1") {
		if e.RuleNumber < 100 {
			got = append(got, e.String())
		}
	}
	if want := []string{"ingress 1 deny 6 198.51.100.1/32"}; !slices.Equal(got, want) {
		t.Errorf("entries below 100 = %q, want %q", got, want)
	}
}

func TestDenyWrites(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.DenyWrites(true)
	c := srv.Client(t, noRetry)
	ctx := context.Background()
	for _, dry := range []bool{false, true} {
		in := entryInput("acl-1", 1, false, types.RuleActionDeny, "203.0.113.7/32")
		in.DryRun = aws.Bool(dry)
		_, err := c.CreateNetworkAclEntry(ctx, in)
		if code, status := codeStatus(err); code != "UnauthorizedOperation" || status != 403 {
			t.Errorf("create dry run %v: %q %d, want UnauthorizedOperation 403", dry, code, status)
		}
	}
	if _, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{}); err != nil {
		t.Errorf("describe with writes denied: %v", err)
	}
	srv.DenyWrites(false)
	if _, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 1, false, types.RuleActionDeny, "203.0.113.7/32")); err != nil {
		t.Errorf("create after DenyWrites(false): %v", err)
	}
}

// TestCanonicalCIDR: CIDRs are stored with host bits cleared, IPv6 in
// canonical text form.
func TestCanonicalCIDR(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	c := srv.Client(t)
	for i, cidr := range []string{"100.68.0.18/18", "2001:DB8:0:0::1/64"} {
		if _, err := c.CreateNetworkAclEntry(context.Background(), entryInput("acl-1", int32(i+1), false, types.RuleActionDeny, cidr)); err != nil {
			t.Fatalf("create %s: %v", cidr, err)
		}
	}
	var got []string
	for _, e := range srv.Entries("acl-1") {
		if e.RuleNumber < 100 {
			got = append(got, e.CIDR)
		}
	}
	if want := []string{"100.68.0.0/18", "2001:db8::/64"}; !slices.Equal(got, want) {
		t.Errorf("stored CIDRs %v, want %v", got, want)
	}
}

// TestQuota: 20 entries per direction and family including the default
// rule; settable up to 40.
func TestQuota(t *testing.T) {
	tests := []struct {
		quota int
		want  int // v4 ingress denies accepted on a default ACL
	}{
		{acltest.DefaultQuota, 18},
		{3, 1},
		{acltest.MaxQuota, 38},
	}
	for _, tt := range tests {
		srv := acltest.NewServer()
		srv.DefaultACL("acl-1")
		srv.SetQuota(tt.quota)
		c := srv.Client(t, noRetry)
		ctx := context.Background()
		n := 0
		var err error
		for ; n < 50; n++ {
			_, err = c.CreateNetworkAclEntry(ctx, entryInput("acl-1", int32(n+1), false, types.RuleActionDeny, "198.51.100."+strconv.Itoa(n+1)+"/32"))
			if err != nil {
				break
			}
		}
		if code, _ := codeStatus(err); n != tt.want || code != "NetworkAclEntryLimitExceeded" {
			t.Errorf("quota %d: %d accepted then %v, want %d then NetworkAclEntryLimitExceeded", tt.quota, n, err, tt.want)
		}
		// IPv6 and egress are counted apart.
		if _, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 99, false, types.RuleActionDeny, "2001:db8::1/128")); err != nil {
			t.Errorf("quota %d: IPv6 ingress: %v", tt.quota, err)
		}
		if _, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 1, true, types.RuleActionDeny, "198.51.100.1/32")); err != nil {
			t.Errorf("quota %d: IPv4 egress: %v", tt.quota, err)
		}
		srv.Close()
	}
	for _, bad := range []int{0, acltest.MaxQuota + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetQuota(%d) did not panic", bad)
				}
			}()
			acltest.NewServer().SetQuota(bad)
		}()
	}
}

// TestUnsigned: a request without a SigV4 Authorization header is refused
// with AuthFailure in EC2's error XML.
func TestUnsigned(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	resp, err := http.PostForm(srv.URL(), url.Values{"Action": {"DescribeNetworkAcls"}, "Version": {acltest.APIVersion}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 401 || !strings.Contains(string(body), "<Response><Errors><Error><Code>AuthFailure</Code>") || !strings.Contains(string(body), "<RequestID>") {
		t.Errorf("unsigned request: %d %s, want 401 AuthFailure error XML", resp.StatusCode, body)
	}
	if n := srv.CallCount("*"); n != 0 {
		t.Errorf("recorded %d calls, want 0", n)
	}
}

// TestFailAndCalls: injected faults apply to the named action, in order,
// the given number of times, and every attempt is recorded.
func TestFailAndCalls(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.Fail(acltest.CreateNetworkAclEntry, "NetworkAclEntryLimitExceeded", 400, 1)
	srv.Fail("*", "RequestLimitExceeded", 503, 2)
	c := srv.Client(t, noRetry)
	ctx := context.Background()
	describe := func() error {
		_, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{})
		return err
	}
	createEntry := func() error {
		_, err := c.CreateNetworkAclEntry(ctx, entryInput("acl-1", 1, false, types.RuleActionDeny, "203.0.113.7/32"))
		return err
	}
	steps := []struct {
		call       func() error
		wantCode   string
		wantStatus int
	}{
		{describe, "RequestLimitExceeded", 503},
		{createEntry, "NetworkAclEntryLimitExceeded", 400},
		{createEntry, "RequestLimitExceeded", 503},
		{describe, "", 0},
		{createEntry, "", 0},
	}
	for i, s := range steps {
		if code, status := codeStatus(s.call()); code != s.wantCode || status != s.wantStatus {
			t.Errorf("step %d: %q %d, want %q %d", i, code, status, s.wantCode, s.wantStatus)
		}
	}
	if d, cr, all := srv.CallCount(acltest.DescribeNetworkAcls), srv.CallCount(acltest.CreateNetworkAclEntry), srv.CallCount("*"); d != 2 || cr != 3 || all != 5 {
		t.Errorf("CallCount describe %d create %d all %d, want 2 3 5", d, cr, all)
	}
	calls := srv.Calls()
	if got := calls[4].Form.Get("CidrBlock"); got != "203.0.113.7/32" {
		t.Errorf("last call CidrBlock %q, want 203.0.113.7/32", got)
	}
	calls[4].Form.Set("CidrBlock", "changed")
	if got := srv.Calls()[4].Form.Get("CidrBlock"); got != "203.0.113.7/32" {
		t.Errorf("Calls returned shared forms: %q", got)
	}
	// The SDK's standard retryer (Client's default) rides over throttling.
	srv.Fail(acltest.DescribeNetworkAcls, "RequestLimitExceeded", 503, 3)
	if _, err := srv.Client(t).DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{}); err != nil {
		t.Errorf("describe with retries: %v", err)
	}
	if d := srv.CallCount(acltest.DescribeNetworkAcls); d != 6 {
		t.Errorf("describe calls %d, want 6 (2 + 3 throttled + 1)", d)
	}
}

// TestStall: a stalled call hangs until released; one whose client gives up
// ends without an answer.
func TestStall(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	c := srv.Client(t, noRetry)
	release := srv.Stall(acltest.DescribeNetworkAcls)
	defer release()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled describe: %v, want deadline exceeded", err)
	}

	arrived := make(chan struct{}, 1)
	srv.OnCall(func(action string, _ url.Values) {
		if action == acltest.DescribeNetworkAcls {
			arrived <- struct{}{}
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := c.DescribeNetworkAcls(context.Background(), &ec2.DescribeNetworkAclsInput{})
		done <- err
	}()
	<-arrived
	select {
	case err := <-done:
		t.Fatalf("stalled describe returned before release: %v", err)
	default:
	}
	// Other actions are not stalled.
	if _, err := c.CreateNetworkAclEntry(context.Background(), entryInput("acl-1", 1, false, types.RuleActionDeny, "203.0.113.7/32")); err != nil {
		t.Errorf("create during describe stall: %v", err)
	}
	release()
	release() // twice is fine
	if err := <-done; err != nil {
		t.Errorf("released describe: %v", err)
	}
}

// TestCloseReleasesStall: Close does not wait for stalled calls forever.
func TestCloseReleasesStall(t *testing.T) {
	srv := acltest.NewServer()
	srv.DefaultACL("acl-1")
	c := srv.Client(t, noRetry)
	srv.Stall("*")
	arrived := make(chan struct{})
	srv.OnCall(func(string, url.Values) { close(arrived) })
	done := make(chan error, 1)
	go func() {
		_, err := c.DescribeNetworkAcls(context.Background(), &ec2.DescribeNetworkAclsInput{})
		done <- err
	}()
	<-arrived
	srv.Close()
	if err := <-done; err == nil {
		t.Error("describe on a closed server succeeded")
	}
}

func TestSetEntry(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	srv.DefaultACL("acl-1")
	srv.SetEntry("acl-1", acltest.Entry{RuleNumber: 100, RuleAction: "deny", CIDR: "198.51.100.7/24"})
	var got []string
	for _, e := range srv.Entries("acl-1") {
		if !e.Egress {
			got = append(got, e.String())
		}
	}
	want := []string{
		"ingress 100 deny -1 198.51.100.0/24", "ingress 101 allow -1 ::/0",
		"ingress 32767 deny -1 0.0.0.0/0", "ingress 32767 deny -1 ::/0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("ingress entries %q, want %q", got, want)
	}
	if srv.Entries("acl-9") != nil {
		t.Error("Entries of an unknown ACL is not nil")
	}
}

// TestAppliedFaults: FailAfter and Cut apply the call before failing it,
// Drop answers 200 and applies nothing, IgnoreDryRun applies DryRun writes.
func TestAppliedFaults(t *testing.T) {
	srv := acltest.NewServer()
	defer srv.Close()
	c := srv.Client(t, noRetry)
	ctx := context.Background()
	denies := func() []int {
		var out []int
		for _, e := range srv.Entries("acl-1") {
			if !e.Egress && e.RuleAction == "deny" && e.RuleNumber != acltest.DefaultRuleNumber {
				out = append(out, e.RuleNumber)
			}
		}
		return out
	}
	steps := []struct {
		name       string
		fault      func()
		rule       int32
		dryRun     bool
		wantCode   string
		wantStatus int
		wantRules  []int
	}{
		{"fail after applying", func() { srv.FailAfter(acltest.CreateNetworkAclEntry, "InternalError", 500, 1) }, 1, false, "InternalError", 500, []int{1}},
		{"cut after applying", func() { srv.Cut(acltest.CreateNetworkAclEntry, 1) }, 2, false, "?", 0, []int{1, 2}},
		{"dropped", func() { srv.Drop(acltest.CreateNetworkAclEntry, 1) }, 3, false, "", 0, []int{1, 2}},
		{"dry run honoured", func() {}, 4, true, "DryRunOperation", 412, []int{1, 2}},
		{"dry run ignored", func() { srv.IgnoreDryRun(true) }, 5, true, "", 0, []int{1, 2, 5}},
	}
	for _, s := range steps {
		srv.DefaultACL("acl-1")
		for _, n := range []int{1, 2, 5} {
			if slices.Contains(s.wantRules, n) && n < int(s.rule) {
				srv.SetEntry("acl-1", acltest.Entry{RuleNumber: n, Protocol: "-1", RuleAction: "deny", CIDR: fmt.Sprintf("198.51.100.%d/32", n)})
			}
		}
		s.fault()
		in := entryInput("acl-1", s.rule, false, types.RuleActionDeny, fmt.Sprintf("198.51.100.%d/32", s.rule))
		in.DryRun = aws.Bool(s.dryRun)
		_, err := c.CreateNetworkAclEntry(ctx, in)
		if code, status := codeStatus(err); code != s.wantCode || status != s.wantStatus {
			t.Errorf("%s: create = %q %d (%v), want %q %d", s.name, code, status, err, s.wantCode, s.wantStatus)
		}
		if got := denies(); !slices.Equal(got, s.wantRules) {
			t.Errorf("%s: deny rules %v, want %v", s.name, got, s.wantRules)
		}
	}
}
