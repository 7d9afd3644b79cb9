package client

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
)

// RetryPolicy says how Load retries a request that failed with UNAVAILABLE
// or ABORTED. Zero fields take the defaults.
type RetryPolicy struct {
	MaxAttempts    int           // default 5 (1 = no retry)
	InitialBackoff time.Duration // default 100ms
	MaxBackoff     time.Duration // default 5s; exponential with full jitter
}

// The RetryPolicy defaults.
const (
	DefaultMaxAttempts    = 5
	DefaultInitialBackoff = 100 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
)

// withDefaults fills the zero (or negative) fields.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = DefaultInitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	p.MaxBackoff = max(p.MaxBackoff, p.InitialBackoff)
	return p
}

// backoff is the wait after the retry-th failed attempt (0 for the first):
// a uniformly random duration up to InitialBackoff·2^retry, capped at
// MaxBackoff ("full jitter").
func (p RetryPolicy) backoff(retry int) time.Duration {
	ceil := p.InitialBackoff
	for range retry {
		if ceil > p.MaxBackoff/2 {
			return rand.N(p.MaxBackoff + 1)
		}
		ceil *= 2
	}
	return rand.N(min(ceil, p.MaxBackoff) + 1)
}

// do calls call until it succeeds, fails for good, runs out of attempts or
// ctx ends; it returns the last attempt's error as an *Error.
func (p RetryPolicy) do(ctx context.Context, call func(context.Context) error) error {
	for retry := 0; ; retry++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		e := toError(err)
		if !e.Retryable() || retry+1 >= p.MaxAttempts || !sleep(ctx, p.backoff(retry)) {
			return e
		}
	}
}

// sleep waits d, or reports false at once when ctx ends first or its
// deadline would pass before d did.
func sleep(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// retried calls the unary rpc with req under the client's RetryPolicy
// (again on UNAVAILABLE and ABORTED only) and returns its last answer;
// errors are *Error.
func retried[Req, Resp any](ctx context.Context, c *Client, rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	var resp Resp
	err := c.retry.do(ctx, func(ctx context.Context) error {
		var err error
		resp, err = rpc(ctx, req)
		return err
	})
	return resp, err
}
