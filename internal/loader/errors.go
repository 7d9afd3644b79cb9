package loader

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
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

// Kind is what a failure after the session was acquired means, decided once
// where the driver is called, from the SQLSTATE or the connection's state.
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
}

func (e *LoadError) Error() string { return e.Message }
func (e *LoadError) Unwrap() error { return e.Err }

// classify turns a driver error into a LoadError. lost says the session
// is gone (closed, or a broken socket).
func classify(ctx context.Context, err error, lost bool) *LoadError {
	le := &LoadError{Kind: KindInternal, Message: err.Error(), Ctx: ctx.Err(), Err: err}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		le.Message, le.SQLState, le.Detail = pgErr.Message, pgErr.Code, pgErr.Detail
		le.Constraint, le.Schema, le.Table, le.Column = pgErr.ConstraintName, pgErr.SchemaName, pgErr.TableName, pgErr.ColumnName
		le.Kind = kindOf(pgErr)
	}
	if lost {
		le.Kind = KindConnectionLost
	}
	return le
}

// kindOf is the contract's table from SQLSTATE to kind.
func kindOf(e *pgconn.PgError) Kind {
	c := e.Code
	switch {
	case c == "23505":
		return KindDuplicateKey
	case strings.HasPrefix(c, "23"):
		return KindConstraint
	case strings.HasPrefix(c, "22"), c == "42703":
		return KindInvalidData
	case c == "42P01":
		return KindNotFound
	case c == "40001", c == "40P01":
		return KindRetry
	case c == "57014" && strings.Contains(e.Message, "statement timeout"), c == "55P03":
		return KindTimeout // statement_timeout, lock_timeout
	case c == "57014":
		return KindCancelled
	case c == "42501":
		return KindPermission
	case strings.HasPrefix(c, "53"):
		return KindResources
	case strings.HasPrefix(c, "57P"), strings.HasPrefix(c, "08"):
		return KindConnectionLost
	}
	return KindInternal
}
