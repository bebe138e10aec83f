package wafipset

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/aws/smithy-go"

	"github.com/dosguard/dosguard/target"
)

// Reasons of Error that are not WAF error codes. A WAF error code, such
// as "WAFNonexistentItemException" or "AccessDeniedException", is itself
// the Reason.
const (
	// ReasonRefused: the prefix is not one dosguard may deny.
	ReasonRefused = "refused"
	// ReasonFull: the set holds Config.EntryLimit addresses.
	ReasonFull = "IP set full"
	// ReasonFamily: the prefix is not of the set's IP version.
	ReasonFamily = "wrong IP version for the set"
	// ReasonTimeout: the calls did not finish within Config.CallTimeout.
	ReasonTimeout = "timeout"
	// ReasonCanceled: the caller canceled the context.
	ReasonCanceled = "canceled"
	// ReasonFailed: a call failed without a WAF error code.
	ReasonFailed = "request failed"
)

// Error is the error of a Set's calls, reading like
// "wafipset: update arn:...: WAFNonexistentItemException: ...".
type Error struct {
	// Op is "get", "update", "block" or "unblock".
	Op string
	// Set is the IP set's ARN.
	Set string
	// Reason is a WAF error code or one of the Reason constants.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("wafipset: %s %s: %s", e.Op, e.Set, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// Code returns e.Reason (target.Failure).
func (e *Error) Code() string { return e.Reason }

// retryCodes are answers worth another Get + Update within the timeout:
// the set changed meanwhile, or WAF throttled.
var retryCodes = []string{
	"WAFOptimisticLockException", "WAFLimitsExceededException", "ThrottlingException",
	"WAFUnavailableEntityException", "WAFInternalErrorException",
}

// Transient reports a failure that may pass within seconds (target.Failure).
func (e *Error) Transient() bool {
	if e.Reason == ReasonTimeout || e.Reason == ReasonFailed || slices.Contains(retryCodes, e.Reason) {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(e.Err, &re) && re.HTTPStatusCode() >= http.StatusInternalServerError
}

// Is makes an *Error with ReasonFull match target.ErrFull.
func (e *Error) Is(err error) bool { return err == target.ErrFull && e.Reason == ReasonFull }

var _ target.Failure = (*Error)(nil)

// callError wraps err of a call made under ctx.
func callError(op, set string, ctx context.Context, err error) *Error {
	reason := ReasonFailed
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		reason = ReasonTimeout
	case errors.Is(ctx.Err(), context.Canceled), errors.Is(err, context.Canceled):
		reason = ReasonCanceled
	default:
		if c := errorCode(err); c != "" {
			reason = c
		}
	}
	return &Error{Op: op, Set: set, Reason: reason, Err: err}
}

// errorCode returns the WAF error code in err, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
