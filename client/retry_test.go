package client

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func TestRetryPolicyDefaults(t *testing.T) {
	t.Parallel()
	got := RetryPolicy{}.withDefaults()
	if want := (RetryPolicy{MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second}); got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	if got := (RetryPolicy{MaxAttempts: 1, InitialBackoff: time.Minute}).withDefaults(); got.MaxAttempts != 1 || got.MaxBackoff != time.Minute {
		t.Fatalf("%+v: want 1 attempt and MaxBackoff raised to InitialBackoff", got)
	}
}

// TestRetryBackoffIsFullJitter checks that the waits are spread over
// [0, min(MaxBackoff, InitialBackoff·2^retry)].
func TestRetryBackoffIsFullJitter(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second}.withDefaults()
	for retry, ceil := range map[int]time.Duration{0: 100 * time.Millisecond, 1: 200 * time.Millisecond, 3: 800 * time.Millisecond, 6: 5 * time.Second, 200: 5 * time.Second} {
		var lo, hi time.Duration = ceil, 0
		for range 2000 {
			d := p.backoff(retry)
			if d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, outside [0, %v]", retry, d, ceil)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo > ceil/10 || hi < ceil*9/10 {
			t.Fatalf("backoff(%d) spans only [%v, %v] of [0, %v]", retry, lo, hi, ceil)
		}
	}
}

func TestRetryableCodes(t *testing.T) {
	t.Parallel()
	for _, c := range []codes.Code{codes.OK, codes.Canceled, codes.Unknown, codes.InvalidArgument, codes.DeadlineExceeded,
		codes.NotFound, codes.AlreadyExists, codes.PermissionDenied, codes.ResourceExhausted, codes.FailedPrecondition,
		codes.Aborted, codes.OutOfRange, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss, codes.Unauthenticated} {
		want := c == codes.Unavailable || c == codes.Aborted
		if got := (&Error{Code: c}).Retryable(); got != want {
			t.Errorf("%s: Retryable() = %v, want %v", c, got, want)
		}
	}
}
