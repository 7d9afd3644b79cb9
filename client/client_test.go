package client

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestAsError(t *testing.T) {
	t.Parallel()
	if _, ok := AsError(nil); ok {
		t.Fatal("AsError(nil) converts")
	}
	if _, ok := AsError(errors.New("plain")); ok {
		t.Fatal("a plain error converts")
	}
	raw := status.Error(codes.NotFound, "load failed: relation \"x\" does not exist")
	if e, ok := AsError(raw); !ok || e.Code != codes.NotFound || e.Row != -1 {
		t.Fatalf("status error: %+v %v", e, ok)
	}
	e, ok := AsError(context.DeadlineExceeded)
	if !ok || e.Code != codes.DeadlineExceeded || !errors.Is(e, context.DeadlineExceeded) {
		t.Fatalf("context error: %+v %v", e, ok)
	}
	wrapped := errors.Join(errors.New("loading nav"), &Error{Code: codes.Aborted, Row: -1})
	if e, ok := AsError(wrapped); !ok || !e.Retryable() {
		t.Fatalf("wrapped *Error: %+v %v", e, ok)
	}
	for field, row := range map[string]int{"rows[3].plan_code": 3, "rows[12]": 12, "config.pk": -1, "rows[x]": -1, "rows[4": -1} {
		if got := rowOf(field); got != row {
			t.Errorf("rowOf(%q) = %d, want %d", field, got, row)
		}
	}
}

// wantError fails unless err is an *Error with code.
func wantError(t *testing.T, err error, code codes.Code) *Error {
	t.Helper()
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("error %v (%T) does not convert to *Error", err, err)
	}
	if e.Code != code {
		t.Fatalf("got %s %q, want %s", e.Code, e.Message, code)
	}
	return e
}
