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

// LoadError is anything that failed after the session was acquired. The
// transaction was rolled back; nothing of the load stays in the table.
// Err is the driver's error (often a *pgconn.PgError).
type LoadError struct {
	Err error
	// ConnLost is set when the session died mid-load (backend terminated,
	// network error): the transaction was rolled back and a retry is safe.
	ConnLost bool
	// Ctx is the request context's error when the load stopped because the
	// request was cancelled or its deadline passed.
	Ctx error
}

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }
