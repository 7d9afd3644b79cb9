package client

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
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

// TestRowErrorsDetail: the loadsvc.v1.RowErrors detail of a status becomes
// Error.RowErrors and RowErrorsTruncated, beside the ErrorInfo.
func TestRowErrorsDetail(t *testing.T) {
	t.Parallel()
	st, err := status.New(codes.InvalidArgument, "load failed: 2 bad rows").WithDetails(
		&errdetails.ErrorInfo{Reason: "LOAD_FAILED", Metadata: map[string]string{"sqlstate": "22P02"}},
		&loadsvcv1.RowErrors{Truncated: true, Errors: []*loadsvcv1.RowError{
			{Row: 3, Column: "nav", Value: "一百万", Sqlstate: "22P02", Message: `invalid input syntax for type numeric: "一百万"`},
			{Row: 7, Sqlstate: "23514", Message: "check", Constraint: "nav_positive"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	e := wantError(t, st.Err(), codes.InvalidArgument)
	if e.SQLState != "22P02" || !e.RowErrorsTruncated || len(e.RowErrors) != 2 {
		t.Fatalf("got sqlstate %q, truncated %v, %d row errors", e.SQLState, e.RowErrorsTruncated, len(e.RowErrors))
	}
	if r := e.RowErrors[0]; r.GetRow() != 3 || r.GetColumn() != "nav" || r.GetValue() != "一百万" {
		t.Errorf("first row error: %v", r)
	}
	if r := e.RowErrors[1]; r.GetRow() != 7 || r.GetConstraint() != "nav_positive" {
		t.Errorf("second row error: %v", r)
	}
	if e, _ := AsError(status.Error(codes.InvalidArgument, "no details")); e.RowErrors != nil || e.RowErrorsTruncated {
		t.Errorf("a status without the detail has row errors: %v", e.RowErrors)
	}
}
