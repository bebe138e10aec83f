package enforce

import (
	"context"
	"time"

	"github.com/dosguard/dosguard/target"
)

// SetWait replaces how e waits for write tokens (tests record the waits).
func SetWait(e *Enforcer, wait func(ctx context.Context, d time.Duration) error) { e.wait = wait }

// SleepCtx is the Enforcer's own wait.
var SleepCtx = target.Sleep
