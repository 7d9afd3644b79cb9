package pgexec

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// classify turns a driver error into a loader.LoadError. lost says the
// session is gone (closed, or a broken socket).
func classify(ctx context.Context, err error, lost bool) *loader.LoadError {
	le := &loader.LoadError{Kind: loader.KindInternal, Message: err.Error(), Ctx: ctx.Err(), Err: err}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		le.Message, le.SQLState, le.Detail = pgErr.Message, pgErr.Code, pgErr.Detail
		le.Constraint, le.Schema, le.Table, le.Column = pgErr.ConstraintName, pgErr.SchemaName, pgErr.TableName, pgErr.ColumnName
		le.Kind = kindOf(pgErr)
	}
	if lost {
		le.Kind = loader.KindConnectionLost
	}
	return le
}

// kindOf is the contract's table from SQLSTATE to kind.
func kindOf(e *pgconn.PgError) loader.Kind {
	c := e.Code
	switch {
	case c == "23505":
		return loader.KindDuplicateKey
	case strings.HasPrefix(c, "23"):
		return loader.KindConstraint
	case strings.HasPrefix(c, "22"), c == "42703":
		return loader.KindInvalidData
	case c == "42P01":
		return loader.KindNotFound
	case c == "40001", c == "40P01":
		return loader.KindRetry
	case c == "57014" && strings.Contains(e.Message, "statement timeout"), c == "55P03":
		return loader.KindTimeout // statement_timeout, lock_timeout
	case c == "57014":
		return loader.KindCancelled
	case c == "42501":
		return loader.KindPermission
	case strings.HasPrefix(c, "53"):
		return loader.KindResources
	case strings.HasPrefix(c, "57P"), strings.HasPrefix(c, "08"):
		return loader.KindConnectionLost
	}
	return loader.KindInternal
}

// connFailure reports an error that means the session is gone: a backend
// terminated or a connection failure by SQLSTATE (classes 57P and 08, as
// kindOf says), or a broken socket.
func connFailure(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return kindOf(pgErr) == loader.KindConnectionLost
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// asPgError is the PostgreSQL error inside err, if any.
func asPgError(err error) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) {
		return nil, false
	}
	return pgErr, true
}
