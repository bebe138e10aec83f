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
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/aws/smithy-go/middleware"

	"github.com/dosguard/dosguard/conf"
	"github.com/dosguard/dosguard/notify"
	"github.com/dosguard/dosguard/wafipset"
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
// blocks and Network ACLs are set, WAFv2 when a rule blocks and IP sets
// are, SNS when a topic is), from the AWS default credential chain
// (environment, shared config, IRSA web identity, ECS/EC2 role). It makes
// no network call: credentials are resolved on first use.
// apiOptions are added to every client's middleware stack (the metrics'
// per-call counters and latency).
func AWSDeps(ctx context.Context, cfg conf.Config, apiOptions ...func(*middleware.Stack) error) (Deps, error) {
	return awsDeps(ctx, cfg, cfg.Blocks() && len(cfg.ACLIDs) > 0, cfg.Blocks() && len(cfg.WAFIPSetARNs) > 0, cfg.TopicARN != "", apiOptions...)
}

// ACLDeps builds the EC2 and WAFv2 clients of the acl commands, as
// AWSDeps does: they manage the Network ACLs and IP sets, so the clients
// are built whenever those are set, whatever the rules' actions.
func ACLDeps(ctx context.Context, cfg conf.Config) (Deps, error) {
	return awsDeps(ctx, cfg, len(cfg.ACLIDs) > 0, len(cfg.WAFIPSetARNs) > 0, false)
}

func awsDeps(ctx context.Context, cfg conf.Config, needEC2, needWAF, needSNS bool, apiOptions ...func(*middleware.Stack) error) (Deps, error) {
	var d Deps
	var err error
	if d.RedisIAM, err = RedisIAM(ctx, cfg); err != nil {
		return d, err
	}
	if !needEC2 && !needWAF && !needSNS {
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
	if needWAF {
		// One client per IP set, in the region of its ARN (us-east-1 for
		// CLOUDFRONT sets); throttling and 5xx retried by the same retryer,
		// lock conflicts by the IP set itself.
		d.WAF = func(region string) wafipset.WAFAPI {
			return wafv2.NewFromConfig(ac, func(o *wafv2.Options) {
				o.Region = region
				if cfg.WAFEndpoint != "" {
					o.BaseEndpoint = aws.String(cfg.WAFEndpoint)
				}
			})
		}
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
