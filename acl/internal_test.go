package acl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/dosguard/dosguard/target"
)

func TestErrorString(t *testing.T) {
	p := netip.MustParsePrefix("203.0.113.7/32")
	api := &smithy.GenericAPIError{Code: "NetworkAclEntryLimitExceeded", Message: "limit"}
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Op: OpCreate, ACLID: "acl-0abc", RuleNumber: 17, Prefix: p, Reason: "NetworkAclEntryLimitExceeded", Err: api},
			"acl: create entry 17 in acl-0abc for 203.0.113.7/32: NetworkAclEntryLimitExceeded: api error NetworkAclEntryLimitExceeded: limit"},
		{&Error{Op: OpDelete, ACLID: "acl-0abc", RuleNumber: 3, Prefix: p, Reason: ReasonTimeout, Err: context.DeadlineExceeded},
			"acl: delete entry 3 in acl-0abc for 203.0.113.7/32: timeout: context deadline exceeded"},
		{&Error{Op: OpDescribe, ACLID: "acl-0abc", Prefix: p, Reason: ReasonACLNotFound},
			"acl: describe acl-0abc for 203.0.113.7/32: network ACL not found"},
		{&Error{Op: OpBlock, ACLID: "acl-0abc", Prefix: p, Reason: ReasonNoFreeRule, Err: errors.New("rules 1..99 all taken")},
			"acl: block 203.0.113.7/32 in acl-0abc: no free rule number: rules 1..99 all taken"},
		{&Error{Op: OpBlock, Prefix: netip.MustParsePrefix("0.0.0.0/0"), Reason: ReasonRefused, Err: errors.New("prefix would deny everyone or is invalid")},
			"acl: block 0.0.0.0/0: refused: prefix would deny everyone or is invalid"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant %q", got, tt.want)
		}
	}
	var apiErr smithy.APIError
	if err := error(tests[0].err); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "NetworkAclEntryLimitExceeded" {
		t.Errorf("errors.As(%v, smithy.APIError) failed: Unwrap broken", err)
	}
}

func TestReasonOf(t *testing.T) {
	live := context.Background()
	expired, cancel := context.WithTimeout(live, 0)
	defer cancel()
	canceled, cancel2 := context.WithCancel(live)
	cancel2()
	api := &smithy.GenericAPIError{Code: "RequestLimitExceeded"}
	tests := []struct {
		ctx  context.Context
		err  error
		want string
	}{
		{live, api, "RequestLimitExceeded"},
		{live, fmt.Errorf("operation error: %w", api), "RequestLimitExceeded"},
		{expired, api, ReasonTimeout},
		{live, fmt.Errorf("send: %w", context.DeadlineExceeded), ReasonTimeout},
		{canceled, errors.New("x"), ReasonCanceled},
		{live, errors.New("connection refused"), ReasonFailed},
	}
	for i, tt := range tests {
		if got := reasonOf(tt.ctx, tt.err); got != tt.want {
			t.Errorf("case %d: reasonOf(%v) = %q, want %q", i, tt.err, got, tt.want)
		}
	}
}

// manyEntries is a full default-quota ACL: 18 denies per family, the
// allow-all and default rules, ingress and egress.
func manyEntries() []types.NetworkAclEntry {
	var out []types.NetworkAclEntry
	add := func(n int, egress bool, action types.RuleAction, cidr string) {
		e := types.NetworkAclEntry{RuleNumber: aws.Int32(int32(n)), Egress: aws.Bool(egress), Protocol: aws.String("-1"), RuleAction: action}
		if netip.MustParsePrefix(cidr).Addr().Is6() {
			e.Ipv6CidrBlock = aws.String(cidr)
		} else {
			e.CidrBlock = aws.String(cidr)
		}
		out = append(out, e)
	}
	for _, egress := range []bool{false, true} {
		for i := 1; i <= 18; i++ {
			add(i, egress, types.RuleActionDeny, fmt.Sprintf("198.51.100.%d/32", i))
			add(18+i, egress, types.RuleActionDeny, fmt.Sprintf("2001:db8::%x/128", i))
		}
		add(100, egress, types.RuleActionAllow, "0.0.0.0/0")
		add(101, egress, types.RuleActionAllow, "::/0")
		add(32767, egress, types.RuleActionDeny, "0.0.0.0/0")
		add(32767, egress, types.RuleActionDeny, "::/0")
	}
	return out
}

func TestInspectFull(t *testing.T) {
	n := &NACL{id: "acl-1", warned: map[bool]bool{}}
	v, err := n.inspect(OpBlock, manyEntries(), netip.MustParsePrefix("198.51.100.7/32"))
	if err != nil || v.lo != 1 || v.hi != 99 || v.free != 37 || len(v.matches) != 1 || v.matches[0] != 7 {
		t.Errorf("inspect = %+v, %v; want range 1..99, free 37, matches [7]", v, err)
	}
}

// BenchmarkInspect measures reading a full ACL (80 entries) for a prefix,
// done once per Describe.
func BenchmarkInspect(b *testing.B) {
	blk := &NACL{id: "acl-1", warned: map[bool]bool{}}
	entries := manyEntries()
	p := netip.MustParsePrefix("203.0.113.7/32")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := blk.inspect(OpBlock, entries, p); err != nil {
			b.Fatal(err)
		}
	}
}

func TestErrorTransient(t *testing.T) {
	tests := []struct {
		err  *Error
		want bool
	}{
		{&Error{Reason: ReasonTimeout}, true},
		{&Error{Reason: ReasonFailed}, true},
		{&Error{Reason: "RequestLimitExceeded"}, true},
		{&Error{Reason: "InternalError"}, true},
		{&Error{Reason: "ServiceUnavailable"}, true},
		{&Error{Reason: "UnauthorizedOperation"}, false},
		{&Error{Reason: ReasonNoFreeRule}, false},
		{&Error{Reason: "NetworkAclEntryLimitExceeded"}, false},
		{&Error{Reason: ReasonCanceled}, false},
	}
	for _, tt := range tests {
		if got := tt.err.Transient(); got != tt.want {
			t.Errorf("Error{Reason: %q}.Transient() = %v, want %v", tt.err.Reason, got, tt.want)
		}
	}
	if !errors.Is(&Error{Reason: ReasonNoFreeRule}, target.ErrFull) || errors.Is(&Error{Reason: ReasonTimeout}, target.ErrFull) {
		t.Error("errors.Is(err, target.ErrFull): want true for ReasonNoFreeRule only")
	}
}
