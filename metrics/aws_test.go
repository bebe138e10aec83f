package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dosguard/dosguard/acl/acltest"
	"github.com/dosguard/dosguard/metrics"
	"github.com/dosguard/dosguard/notify/notifytest"
)

// TestAWSOutcomes: each call is counted once, retries included, with the
// outcome of its last attempt, against the local endpoints' real error
// answers.
func TestAWSOutcomes(t *testing.T) {
	var hub metrics.Hub
	out, err := hub.Open(listen, "dosguard.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ec2srv := acltest.NewServer()
	defer ec2srv.Close()
	ec2srv.DefaultACL(testACL)
	snssrv := notifytest.NewServer()
	defer snssrv.Close()
	snssrv.AddTopic(testTopic)
	withEC2 := func(o *ec2.Options) { o.APIOptions = append(o.APIOptions, out.APIOptions()...) }
	withSNS := func(o *sns.Options) { o.APIOptions = append(o.APIOptions, out.APIOptions()...) }
	ec2c, snsc := ec2srv.Client(t, withEC2), snssrv.Client(t)
	ctx := context.Background()
	describe := func() {
		_, _ = ec2c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{testACL}})
	}
	publish := func(ctx context.Context) {
		_, _ = snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(testTopic), Message: aws.String("m")}, withSNS)
	}

	describe()                                                         // ok
	ec2srv.Fail("DescribeNetworkAcls", "RequestLimitExceeded", 503, 5) // every attempt throttled
	describe()
	ec2srv.Fail("DescribeNetworkAcls", "InternalError", 500, 1) // one failed attempt, then ok
	describe()
	_, _ = ec2c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{"acl-0aaaaaaaaaaaaaaa0"}}) // not found
	publish(ctx)                                                                                                          // ok
	snssrv.Fail("InternalError", 500, notifytest.MaxAttempts)
	publish(ctx)
	snssrv.Fail("AuthorizationError", 403, 1)
	publish(ctx)
	cctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	publish(cctx)
	cancel()

	s := scrape(t, hub.Addr(listen))
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"service=EC2", "operation=DescribeNetworkAcls", "outcome=ok"}, 2},
		{[]string{"service=EC2", "operation=DescribeNetworkAcls", "outcome=throttled"}, 1},
		{[]string{"service=EC2", "operation=DescribeNetworkAcls", "outcome=client_error"}, 1},
		{[]string{"service=EC2"}, 4},
		{[]string{"service=SNS", "operation=Publish", "outcome=ok"}, 1},
		{[]string{"service=SNS", "operation=Publish", "outcome=server_error"}, 1},
		{[]string{"service=SNS", "operation=Publish", "outcome=client_error"}, 1},
		{[]string{"service=SNS", "operation=Publish", "outcome=timeout"}, 1},
	} {
		if got := s.Value("dosguard_aws_calls_total", c.labels...); got != c.want {
			t.Errorf("dosguard_aws_calls_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got, want := s.Value("dosguard_aws_call_duration_seconds", "service=EC2"), 4.0; got != want {
		t.Errorf("EC2 latency observations = %v, want %v (one per call, not per attempt)", got, want)
	}
	if n := ec2srv.CallCount("DescribeNetworkAcls"); n != 1+5+2+1 {
		t.Errorf("EC2 received %d requests, want 9 (4 calls: 1, 5 throttled, 2, 1 attempts)", n)
	}
}
