package client

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Error is a failed RPC with what the status details say, or an error the
// client found itself: a row it cannot send (INVALID_ARGUMENT with Field and
// Row), a Write after Close or Abort, a health check that is not SERVING.
type Error struct {
	Code    codes.Code
	Message string
	// Reason is the google.rpc.ErrorInfo reason: DATABASE_CONNECTION_FAILED,
	// LOAD_FAILED, UNKNOWN_COLUMN, ...
	Reason string
	// SQLState, Constraint, Table, Column, Schema and Detail are what
	// PostgreSQL said of a LOAD_FAILED (those it gives).
	SQLState   string
	Constraint string
	Table      string
	Column     string
	Schema     string
	Detail     string
	// Field is the google.rpc.BadRequest field, e.g. "rows[3].plan_code".
	Field string
	// Row is the row index from Field, -1 if none.
	Row int
	// RowErrors are the bad rows of a load refused for its rows (the
	// loadsvc.v1.RowErrors detail), in row order: every bad value or row
	// the service found, up to its LOADSVC_MAX_ROW_ERRORS. RowError.Row is
	// the row's index in the load (for a Writer, counted across its
	// messages, as Writer.Rows counts).
	RowErrors []*loadsvcv1.RowError
	// RowErrorsTruncated is set when the service found more bad rows than
	// RowErrors lists.
	RowErrorsTruncated bool

	status *status.Status // the RPC's status; nil for the client's own errors
	cause  error          // what it wraps (a context error), if anything
}

// Error is the code and the message, e.g. "loadsvc: AlreadyExists: load
// failed: duplicate key value violates unique constraint "nav_pkey"".
func (e *Error) Error() string { return "loadsvc: " + e.Code.String() + ": " + e.Message }

// Retryable reports whether the same request may simply be sent again:
// UNAVAILABLE (no database session could be had, or the service was not
// reached) or ABORTED (rolled back: serialization failure, deadlock, the
// connection lost mid-load).
func (e *Error) Retryable() bool { return e.Code == codes.Unavailable || e.Code == codes.Aborted }

// GRPCStatus is the RPC's status, so that status.FromError and status.Code
// work on an *Error.
func (e *Error) GRPCStatus() *status.Status {
	if e.status != nil {
		return e.status
	}
	return status.New(e.Code, e.Message)
}

// Unwrap is the error behind a cancelled or timed out call
// (context.Canceled, context.DeadlineExceeded), when known.
func (e *Error) Unwrap() error { return e.cause }

// AsError returns err as an *Error: an *Error in err's chain, a gRPC status
// error (from the raw stub, say) or a context error. Every error Load,
// Health and a Writer return converts; for nil and other errors it returns
// false.
func AsError(err error) (*Error, bool) {
	if err == nil {
		return nil, false
	}
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	if st, ok := status.FromError(err); ok {
		return fromStatus(st, nil), true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fromStatus(status.FromContextError(err), err), true
	}
	return nil, false
}

// toError converts a non-nil error to an *Error, UNKNOWN for what AsError
// does not know.
func toError(err error) *Error {
	if e, ok := AsError(err); ok {
		return e
	}
	return &Error{Code: codes.Unknown, Message: err.Error(), Row: -1, cause: err}
}

// fromStatus reads the status details loadsvc sends.
func fromStatus(st *status.Status, cause error) *Error {
	e := &Error{Code: st.Code(), Message: st.Message(), Row: -1, status: st, cause: cause}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			e.setInfo(d)
		case *loadsvcv1.RowErrors:
			e.RowErrors, e.RowErrorsTruncated = d.GetErrors(), d.GetTruncated()
		case *errdetails.BadRequest:
			if v := d.GetFieldViolations(); len(v) > 0 && e.Field == "" {
				e.Field = v[0].GetField()
				e.Row = rowOf(e.Field)
			}
		}
	}
	return e
}

func (e *Error) setInfo(info *errdetails.ErrorInfo) {
	md := info.GetMetadata()
	e.Reason = info.GetReason()
	e.SQLState = md["sqlstate"]
	e.Constraint = md["constraint"]
	e.Table = md["table"]
	e.Column = md["column"]
	e.Schema = md["schema"]
	e.Detail = md["detail"]
}

// rowOf is N of a field "rows[N]" or "rows[N].column", else -1.
func rowOf(field string) int {
	rest, ok := strings.CutPrefix(field, "rows[")
	if !ok {
		return -1
	}
	num, _, ok := strings.Cut(rest, "]")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// rowError is a bad value or column of a row, found by the client.
func rowError(row int64, column, msg string) *Error {
	return &Error{Code: codes.InvalidArgument, Message: msg,
		Field: "rows[" + strconv.FormatInt(row, 10) + "]." + column, Row: int(row)}
}
