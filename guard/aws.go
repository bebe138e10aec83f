package guard

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go/middleware"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/notify"
)

// Retry policy of every AWS call: throttling (RequestLimitExceeded,
// Throttling) and 5xx are retried with exponential backoff and full jitter,
// inside the per-call timeout (AWS_Timeout).
const (
	retryMaxAttempts = 5
	retryMaxBackoff  = 2 * time.Second
)

// RetryOptions configures the SDK's standard retryer as dosguard uses it.
func RetryOptions(o *retry.StandardOptions) {
	o.MaxAttempts = retryMaxAttempts
	o.MaxBackoff = retryMaxBackoff
}

// AWSDeps builds the real AWS clients the guard needs (EC2 when a rule
// blocks and Network ACLs are set, SNS when a topic is), from the AWS default
// credential chain (environment, shared config, IRSA web identity, ECS/EC2
// role). It makes no network call: credentials are resolved on first use.
// apiOptions are added to every client's middleware stack (the metrics'
// per-call counters and latency).
func AWSDeps(ctx context.Context, cfg conf.Config, apiOptions ...func(*middleware.Stack) error) (Deps, error) {
	return awsDeps(ctx, cfg, cfg.Blocks() && len(cfg.ACLIDs) > 0, cfg.TopicARN != "", apiOptions...)
}

// ACLDeps builds the EC2 client of the acl commands, as AWSDeps does: they
// manage the Network ACLs, so it is built whenever Network ACLs are set,
// whatever the rules' actions.
func ACLDeps(ctx context.Context, cfg conf.Config) (Deps, error) {
	return awsDeps(ctx, cfg, len(cfg.ACLIDs) > 0, false)
}

func awsDeps(ctx context.Context, cfg conf.Config, needEC2, needSNS bool, apiOptions ...func(*middleware.Stack) error) (Deps, error) {
	var d Deps
	var err error
	if d.RedisIAM, err = RedisIAM(ctx, cfg); err != nil {
		return d, err
	}
	if !needEC2 && !needSNS {
		return d, nil
	}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryer(func() aws.Retryer { return retry.NewStandard(RetryOptions) }),
	}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return d, fmt.Errorf("guard: load AWS config: %w", err)
	}
	if ac.Region == "" {
		return d, fmt.Errorf("dosguard: %s: %q is required: no region in the environment (AWS_REGION) or shared config", conf.KeyRegion, "")
	}
	ac.APIOptions = append(ac.APIOptions, apiOptions...) // every client built from ac
	if needEC2 {
		d.EC2 = ec2.NewFromConfig(ac, func(o *ec2.Options) {
			if cfg.EC2Endpoint != "" {
				o.BaseEndpoint = aws.String(cfg.EC2Endpoint)
			}
		})
	}
	if needSNS {
		d.SNS = sns.NewFromConfig(ac, func(o *sns.Options) {
			o.Retryer = retry.NewStandard(RetryOptions, notify.RetryOptions)
			if cfg.SNSEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.SNSEndpoint)
			}
		})
	}
	return d, nil
}
