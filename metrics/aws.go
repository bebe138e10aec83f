package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The outcomes of an AWS call.
const (
	outcomeOK           = "ok"
	outcomeThrottled    = "throttled"
	outcomeClientError  = "client_error"
	outcomeServerError  = "server_error"
	outcomeTimeout      = "timeout"
	outcomeNetworkError = "network_error"
)

// throttleCodes are the AWS error codes of throttling (EC2's and the
// query protocol's, SNS's).
var throttleCodes = map[string]bool{
	"RequestLimitExceeded": true, "Throttling": true, "ThrottlingException": true,
	"ThrottledException": true, "TooManyRequestsException": true, "Throttled": true,
}

// APIOption adds the call counter and latency middleware to an AWS
// client's stack: pass it in the clients' APIOptions (aws.Config.APIOptions
// covers every client built from that config). It wraps each operation
// once, retries included, after the service metadata is known. A nil
// Output adds nothing.
func (o *Output) APIOption(stack *middleware.Stack) error {
	if o == nil {
		return nil
	}
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("dosguard.metrics",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
			o.awsSeconds.WithLabelValues(service, op).Observe(time.Since(start).Seconds())
			o.awsCalls.WithLabelValues(service, op, outcome(err)).Inc()
			return out, md, err
		}), middleware.After)
}

// outcome classifies the error of an AWS call.
func outcome(err error) string {
	if err == nil {
		return outcomeOK
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return outcomeTimeout
	}
	var api smithy.APIError
	if errors.As(err, &api) && throttleCodes[api.ErrorCode()] {
		return outcomeThrottled
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		if re.HTTPStatusCode() >= http.StatusInternalServerError {
			return outcomeServerError
		}
		return outcomeClientError
	}
	if api != nil {
		return outcomeClientError
	}
	return outcomeNetworkError
}

// APIOptions returns APIOption in a list for guard.AWSDeps; nil for a nil
// Output (metrics off).
func (o *Output) APIOptions() []func(*middleware.Stack) error {
	if o == nil {
		return nil
	}
	return []func(*middleware.Stack) error{o.APIOption}
}
