package acl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/dosguard/dosguard/target"
)

// Op values of Error.
const (
	OpBlock    = "block"    // a decision of Add made without an AWS call
	OpUnblock  = "unblock"  // a decision of Remove made without an AWS call
	OpDescribe = "describe" // DescribeNetworkAcls
	OpCreate   = "create"   // CreateNetworkAclEntry
	OpDelete   = "delete"   // DeleteNetworkAclEntry
)

// Reasons of Error that are not EC2 error codes. An EC2 error code, such as
// "NetworkAclEntryLimitExceeded", "InvalidNetworkAclID.NotFound",
// "RequestLimitExceeded" or "UnauthorizedOperation", is itself the Reason.
const (
	// ReasonRefused: the prefix is not one that dosguard may deny.
	ReasonRefused = "refused"
	// ReasonNoAllowAll: the automatic rule range needs an ingress allow-all
	// rule for the prefix's address family and the ACL has none.
	ReasonNoAllowAll = "no ingress allow-all rule"
	// ReasonRangeAboveAllow: the configured rule range lies entirely at or
	// above the allow-all rule, where a deny entry would never match.
	ReasonRangeAboveAllow = "rule range above allow-all rule"
	// ReasonNoFreeRule: every number of the managed range is taken.
	ReasonNoFreeRule = "no free rule number"
	// ReasonACLNotFound: DescribeNetworkAcls returned no such ACL.
	ReasonACLNotFound = "network ACL not found"
	// ReasonTimeout: the call did not finish within Config.CallTimeout or
	// the caller's deadline.
	ReasonTimeout = "timeout"
	// ReasonCanceled: the caller canceled the context.
	ReasonCanceled = "canceled"
	// ReasonFailed: the call failed without an EC2 error code, for example
	// a connection error.
	ReasonFailed = "request failed"
)

// Error is the error of a NACL's calls. Its message reads like
// "acl: create entry 17 in acl-0abc for 203.0.113.7/32: NetworkAclEntryLimitExceeded: ...".
type Error struct {
	// Op is what failed: one of the Op constants.
	Op string
	// ACLID is the network ACL concerned, "" if none was.
	ACLID string
	// RuleNumber is the entry concerned by OpCreate and OpDelete, else 0.
	RuleNumber int
	// Prefix is the address being blocked or unblocked.
	Prefix netip.Prefix
	// Reason is a short operator-facing cause: an EC2 error code or one of
	// the Reason constants.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error formats e as "acl: <what> <where>: <Reason>[: <Err>]".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("acl: ")
	switch e.Op {
	case OpCreate, OpDelete:
		fmt.Fprintf(&b, "%s entry %d in %s for %s", e.Op, e.RuleNumber, e.ACLID, e.Prefix)
	case OpDescribe:
		fmt.Fprintf(&b, "describe %s for %s", e.ACLID, e.Prefix)
	default:
		fmt.Fprintf(&b, "%s %s", e.Op, e.Prefix)
		if e.ACLID != "" {
			fmt.Fprintf(&b, " in %s", e.ACLID)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// callError wraps err from an AWS call made with callCtx into an *Error.
func callError(op, aclID string, rule int, p netip.Prefix, callCtx context.Context, err error) *Error {
	return &Error{Op: op, ACLID: aclID, RuleNumber: rule, Prefix: p, Reason: reasonOf(callCtx, err), Err: err}
}

// reasonOf names the cause of err: a deadline or cancellation of ctx first
// (the SDK reports them in several shapes), then the EC2 error code.
func reasonOf(ctx context.Context, err error) string {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(ctx.Err(), context.Canceled), errors.Is(err, context.Canceled):
		return ReasonCanceled
	}
	if code := errorCode(err); code != "" {
		return code
	}
	return ReasonFailed
}

// errorCode returns the EC2 error code in err, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// Code returns e.Reason: the short cause of a failure (target.Failure).
func (e *Error) Code() string { return e.Reason }

// transientCodes are EC2 error codes of throttling and server trouble.
var transientCodes = []string{
	"RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException",
	"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "RequestCanceled",
}

// Transient reports a failure that may pass within seconds: a timeout, a
// failed connection, throttling, or a 5xx answer (target.Failure).
func (e *Error) Transient() bool {
	switch {
	case e.Reason == ReasonTimeout, e.Reason == ReasonFailed, slices.Contains(transientCodes, e.Reason):
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(e.Err, &re) && (re.HTTPStatusCode() >= http.StatusInternalServerError || re.HTTPStatusCode() == http.StatusTooManyRequests)
}

// Is makes an *Error with ReasonNoFreeRule match target.ErrFull.
func (e *Error) Is(err error) bool {
	return err == target.ErrFull && e.Reason == ReasonNoFreeRule
}

var _ target.Failure = (*Error)(nil)
