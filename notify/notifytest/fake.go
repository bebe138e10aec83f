package notifytest

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dosguard/dosguard/notify"
)

var _ notify.SNSAPI = (*Fake)(nil)

// Fake is an in-memory notify.SNSAPI that records every Publish input. It
// checks nothing about the input; use Server for that. The zero value is
// ready to use and safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	inputs []*sns.PublishInput
	err    error
}

// Publish records in and returns a message ID, or the error set by FailWith,
// or ctx's error when ctx is already done.
func (f *Fake) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.err != nil {
		return nil, f.err
	}
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprintf("fake-%d", len(f.inputs)))}, nil
}

// FailWith makes every later Publish return err; nil makes them succeed.
func (f *Fake) FailWith(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Inputs returns the recorded inputs in call order.
func (f *Fake) Inputs() []*sns.PublishInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*sns.PublishInput(nil), f.inputs...)
}
