package server

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// errorDomain is the google.rpc.ErrorInfo domain of loadsvc's errors.
const errorDomain = "loadsvc"

// The google.rpc.ErrorInfo reasons.
const (
	ReasonConnectionFailed  = "DATABASE_CONNECTION_FAILED"
	ReasonLoadFailed        = "LOAD_FAILED"
	ReasonUnknownColumn     = "UNKNOWN_COLUMN"
	ReasonRequestIDConflict = "REQUEST_ID_CONFLICT"
	ReasonOffset            = "SESSION_OFFSET" // a gap or a straddle; metadata next_offset
	ReasonDeleteLimit       = "DELETE_LIMIT_EXCEEDED"
	// ReasonLoadID is the reason of the ErrorInfo that carries a failed
	// load's id when its error has no ErrorInfo of its own.
	ReasonLoadID = "LOAD_ID"
)

// toStatus turns an error of a load into the gRPC status the contract's
// error table gives it. redact scrubs secrets from driver texts.
func toStatus(err error, redact func(string) string) *status.Status {
	var (
		ve *loader.ValidationError
		ce *loader.ConnectError
		uc *loader.UnknownColumnError
		le *loader.LoadError
		cf *loader.ConflictError
		dl *loader.DeleteLimitError
		se *loader.SessionError
	)
	switch {
	case errors.As(err, &ve):
		return badRequest(ve)
	case errors.As(err, new(*loader.PanicError)):
		return status.New(codes.Internal, "internal error; the service logged the details")
	case errors.As(err, &ce):
		if ce.Ctx != nil {
			return status.New(contextCode(ce.Ctx), "request ended while waiting for a database connection: "+ce.Ctx.Error())
		}
		return withDetails(status.New(codes.Unavailable, "database connection failed: "+redact(ce.Err.Error())),
			&errdetails.ErrorInfo{Domain: errorDomain, Reason: ReasonConnectionFailed})
	case errors.As(err, &uc):
		return withDetails(status.New(codes.InvalidArgument, "load failed: "+uc.Error()),
			&errdetails.ErrorInfo{Domain: errorDomain, Reason: ReasonUnknownColumn,
				Metadata: map[string]string{"sqlstate": "42703", "table": uc.Table, "column": uc.Column}})
	case errors.As(err, &cf):
		return withDetails(status.New(codes.AlreadyExists, cf.Error()),
			&errdetails.ErrorInfo{Domain: errorDomain, Reason: ReasonRequestIDConflict, Metadata: map[string]string{"request_id": cf.RequestID}})
	case errors.As(err, &dl):
		return withDetails(status.New(codes.FailedPrecondition, dl.Error()),
			&errdetails.ErrorInfo{Domain: errorDomain, Reason: ReasonDeleteLimit, Metadata: map[string]string{
				"table": dl.Table, "deleted": strconv.FormatInt(dl.Deleted, 10), "max_deleted_rows": strconv.FormatInt(dl.Limit, 10)}})
	case errors.As(err, &le):
		return loadStatus(le, redact)
	case errors.As(err, &se):
		return sessionStatus(se)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.New(contextCode(err), err.Error())
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.New(codes.Internal, "internal error: "+redact(err.Error()))
}

func badRequest(ve *loader.ValidationError) *status.Status {
	code := codes.InvalidArgument
	if ve.Limit {
		code = codes.ResourceExhausted
	}
	return withDetails(status.New(code, ve.Reason),
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: ve.Field, Description: ve.Reason}}},
		rowErrorsDetail(ve.Rows, func(s string) string { return s }))
}

// maxRowErrorMessage bounds one row error's message in the RowErrors
// detail: a message a trigger or a check function raises can be of any
// length, and the detail carries up to LOADSVC_MAX_ROW_ERRORS of them in
// the status trailer.
const maxRowErrorMessage = 512

// rowErrorsDetail is the loadsvc.v1.RowErrors detail of a load refused
// for its rows, or nil; every text PostgreSQL wrote is redacted, a value
// is capped as anywhere else, and a message at maxRowErrorMessage bytes.
func rowErrorsDetail(rows *loader.RowErrors, redact func(string) string) protoadapt.MessageV1 {
	if rows == nil {
		return nil
	}
	errs := rowErrors(rows.Errors)
	for _, e := range errs {
		e.Message = capText(capQuoted(redact(e.Message)), maxRowErrorMessage)
	}
	return &loadsvcv1.RowErrors{Errors: errs, Truncated: rows.Truncated}
}

// capText shortens s to at most n bytes on a character boundary, marking
// the cut.
func capText(s string, n int) string { return loader.CutMarked(s, n, "…(cut)") }

// loadStatus maps a failure after the session was acquired. The request's
// own cancel or deadline wins; then the loader's kind decides.
func loadStatus(le *loader.LoadError, redact func(string) string) *status.Status {
	info := &errdetails.ErrorInfo{Domain: errorDomain, Reason: ReasonLoadFailed, Metadata: map[string]string{}}
	setIf(info.Metadata, "sqlstate", le.SQLState)
	setIf(info.Metadata, "constraint", le.Constraint)
	setIf(info.Metadata, "table", le.Table)
	setIf(info.Metadata, "column", le.Column)
	setIf(info.Metadata, "schema", le.Schema)
	setIf(info.Metadata, "detail", capQuoted(redact(le.Detail)))
	msg, code := le.Message, kindCodes[le.Kind]
	switch {
	case le.Ctx != nil:
		code = contextCode(le.Ctx)
	case le.Kind == loader.KindConnectionLost:
		msg = "the database connection was lost, the transaction was rolled back and a retry is safe: " + msg
	}
	return withDetails(status.New(code, "load failed: "+capQuoted(redact(msg))), info, rowErrorsDetail(le.Rows, redact))
}

// quotedValue is a value as PostgreSQL quotes it in a message or detail:
// "…" in input errors, (…) in key details.
var quotedValue = regexp.MustCompile(`"[^"]*"|\([^()]*\)`)

// capQuoted shortens every quoted value of a PostgreSQL text to
// loader.MaxQuoted bytes, so that a row value of any length reaches neither
// a client nor a log whole.
func capQuoted(s string) string {
	return quotedValue.ReplaceAllStringFunc(s, func(q string) string {
		return q[:1] + loader.Cap(q[1:len(q)-1]) + q[len(q)-1:]
	})
}

// kindCodes is the contract's error table: the gRPC code of each kind of
// load failure.
var kindCodes = map[loader.Kind]codes.Code{
	loader.KindInternal:       codes.Internal,
	loader.KindDuplicateKey:   codes.AlreadyExists,
	loader.KindConstraint:     codes.FailedPrecondition,
	loader.KindInvalidData:    codes.InvalidArgument,
	loader.KindNotFound:       codes.NotFound,
	loader.KindRetry:          codes.Aborted,
	loader.KindTimeout:        codes.DeadlineExceeded,
	loader.KindCancelled:      codes.Canceled,
	loader.KindConnectionLost: codes.Aborted,
	loader.KindPermission:     codes.PermissionDenied,
	loader.KindResources:      codes.ResourceExhausted,
}

// sessionCodes are the codes of the refusals of a load session's calls. A
// session of another caller is NOT_FOUND, as one that does not exist; a
// batch that straddles the writer's next offset conflicts with what is
// stored (FAILED_PRECONDITION), a gap is OUT_OF_RANGE.
var sessionCodes = map[loader.SessionKind]codes.Code{
	loader.SessionNotFound:  codes.NotFound,
	loader.SessionExpired:   codes.FailedPrecondition,
	loader.SessionCommitted: codes.FailedPrecondition,
	loader.SessionGap:       codes.OutOfRange,
	loader.SessionStraddle:  codes.FailedPrecondition,
	loader.SessionLost:      codes.DataLoss,
}

func sessionStatus(se *loader.SessionError) *status.Status {
	st := status.New(sessionCodes[se.Kind], se.Error())
	if se.Kind == loader.SessionGap || se.Kind == loader.SessionStraddle {
		return withDetails(st, &errdetails.ErrorInfo{Domain: errorDomain, Reason: ReasonOffset,
			Metadata: map[string]string{"writer": se.Writer, "offset": itoa(int(se.Offset)), "next_offset": itoa(int(se.Next))}})
	}
	return st
}

// notATarget refuses a load of target, which is one of loadsvc's own
// tables (what).
func notATarget(target, what string) error {
	return status.Errorf(codes.PermissionDenied, "%s is %s and is never a load target", target, what)
}

// historyOff answers ListLoads on a server without a load history.
func historyOff() error {
	return status.Error(codes.Unimplemented, "this server keeps no load history")
}

// sessionsOff answers a session RPC of a server without a session store.
func sessionsOff() error {
	return status.Error(codes.Unimplemented, "load sessions are not served here: the server has no session store")
}

func contextCode(err error) codes.Code {
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded
	}
	return codes.Canceled
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func withDetails(st *status.Status, details ...protoadapt.MessageV1) *status.Status {
	details = slices.DeleteFunc(details, func(d protoadapt.MessageV1) bool { return d == nil })
	if d, err := st.WithDetails(details...); err == nil {
		return d
	}
	return st
}

// watchesExhausted refuses a health Watch beyond the cap of limit streams.
func watchesExhausted(limit int) error {
	return status.Errorf(codes.ResourceExhausted,
		"too many health Watch streams: the server runs at most %d at once (LOADSVC_MAX_WATCH_STREAMS); use Check, or close a Watch", limit)
}

// watchShutdown ends a health Watch when the server shuts down, after its
// last status.
func watchShutdown() error {
	return status.Error(codes.Unavailable, "the server is shutting down: this health Watch ends after its last status")
}

// ErrorStatus is the gRPC code name (as in the gRPC spec: FAILED_PRECONDITION)
// and the message err is answered with, for the load history
// (pgexec.Executor.Status); redact scrubs secrets as for the answer.
func ErrorStatus(err error, redact func(string) string) (code, message string) {
	st := toStatus(err, redact)
	return codeNames[st.Code()], st.Message()
}

// codeNames are the gRPC codes' names as the gRPC spec spells them.
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}
