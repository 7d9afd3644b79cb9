package loader

import (
	"errors"
	"fmt"
)

// ValidationError is a request that is wrong in itself, found before any
// connection. Field names the request field (for example "config.pk" or
// "rows[3].plan_code"); Row is the row index or -1.
type ValidationError struct {
	Field  string
	Row    int
	Reason string
	// Limit marks a request refused for exceeding a configured limit
	// (rows per request or stream) rather than for being malformed.
	Limit bool
	// Rows lists every row refused for the same reason (rows without a
	// key value), when there are any.
	Rows *RowErrors
}

func (e *ValidationError) Error() string { return e.Reason }

func invalid(field string, row int, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Row: row, Reason: fmt.Sprintf(format, args...)}
}

// ConnectError is a failure to get a session: no database configured, the
// server refused or could not be reached, authentication failed, or the pool
// wait ran out. Nothing was written.
type ConnectError struct {
	Err error
	// Ctx is the request context's error when the request was cancelled or
	// its deadline passed while it waited for a connection.
	Ctx error
}

func (e *ConnectError) Error() string { return e.Err.Error() }
func (e *ConnectError) Unwrap() error { return e.Err }

// ErrNoDatabase is the ConnectError cause when the service has no database.
var ErrNoDatabase = errors.New("no database configured (set --database-url, LOADSVC_DATABASE_URL, DATABASE_URL or the PG* variables and restart)")

// UnknownColumnError is a column the rows carry that the target table lacks,
// found from the catalog after the session was acquired and before any write.
type UnknownColumnError struct {
	Table  string // the table as written in SQL
	Column string
}

func (e *UnknownColumnError) Error() string {
	return fmt.Sprintf("column %s of relation %s does not exist", QuoteIdent(e.Column), e.Table)
}

// Kind is what a failure after the session was acquired means, decided once
// where the driver is called (pgexec's classify), from the SQLSTATE or the
// connection's state.
type Kind int

// The kinds of load failure.
const (
	KindInternal       Kind = iota // anything else
	KindDuplicateKey               // 23505 unique violation
	KindConstraint                 // other 23xxx integrity violations
	KindInvalidData                // 22xxx data exceptions, 42703 undefined column
	KindNotFound                   // 42P01 undefined table
	KindRetry                      // 40001 serialization failure, 40P01 deadlock
	KindTimeout                    // statement timeout, lock timeout
	KindCancelled                  // a cancel request
	KindConnectionLost             // the session died mid-load
	KindPermission                 // 42501 insufficient privilege
	KindResources                  // 53xxx insufficient resources
)

// LoadError is anything that failed after the session was acquired. The
// transaction was rolled back; nothing of the load stays in the table.
type LoadError struct {
	Kind Kind
	// Message is PostgreSQL's own message, or the driver's text when the
	// failure never reached the server.
	Message string
	// SQLState and the fields PostgreSQL names, where it gives them.
	SQLState, Constraint, Schema, Table, Column, Detail string
	// Ctx is the request context's error when the load stopped because the
	// request was cancelled or its deadline passed.
	Ctx error
	// Err is the driver's error, for logs and errors.Is.
	Err error
	// Rows, for a load that failed on its rows' data, lists every bad row
	// found; the fields above are the first one's. Nothing was written.
	Rows *RowErrors
}

func (e *LoadError) Error() string { return e.Message }
func (e *LoadError) Unwrap() error { return e.Err }

// ConflictError is a request id already recorded for another table or
// another payload.
type ConflictError struct {
	RequestID string
	Reason    string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("request_id %q was already used %s; use a new request_id for a different load", e.RequestID, e.Reason)
}

// SourceError is a failure of a load's rows' source (a bad row, a broken or
// idle stream) rather than of the database: Intake.Next wraps it so that the
// executor passes Err through as it is instead of classifying it.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// PanicError is a panic of a load's row source, recovered where the load
// reads its rows for the COPY (one place for both RPCs): the load fails, its
// session is closed rather than reused, and Stack is for the log alone.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic reading the load's rows: %v", e.Value) }
