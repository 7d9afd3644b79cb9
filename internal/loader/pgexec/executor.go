package pgexec

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// Executor runs loads on a connection pool, one pooled session and one
// transaction per load.
type Executor struct {
	// Pool is nil when no database is configured: every load then fails
	// with a loader.ConnectError.
	Pool *pgxpool.Pool
	// AcquireTimeout bounds the wait for a pooled connection; 0 waits as
	// long as the request's context allows.
	AcquireTimeout time.Duration
	// StatementTimeout and LockTimeout, when set, are applied to each load
	// with SET LOCAL, so they end with its transaction.
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	// IdleInTransactionTimeout, when set, is applied with SET LOCAL: the
	// server ends a load's session that sits idle in its transaction that
	// long (a client that stopped sending rows).
	IdleInTransactionTimeout time.Duration
	// Ledger records loads that carry a request id; its zero value uses
	// the table loadsvc.load_ledger. The load history is in its schema.
	Ledger loader.Ledger
	// Status, when set, is the gRPC code name and message a load's
	// failure is answered with, for its history record (the server's
	// mapping: this package knows no gRPC). Unset, a failure is recorded
	// as UNKNOWN with its text.
	Status func(err error) (code, message string)

	// migrated says loadsvc's own tables are at SchemaVersion, as far as
	// this process knows.
	migrated atomic.Bool
}

// maxStaleRetries, beyond one try per pooled connection (after a restart
// all of them may be dead), bounds how often a dead pooled connection is
// replaced before the load is given up as a connect failure.
const maxStaleRetries = 3

// Run executes a load whose rows come from src, batch by batch, on one
// pooled connection in one transaction. It is the one path of every
// executing load: a unary request is a source of one batch. The first batch
// fixes the columns and is checked before any connection; a load without
// rows never touches the database.
func (e *Executor) Run(ctx context.Context, cfg loader.Config, src loader.Source) (*loader.Result, error) {
	if err := cfg.CheckOnce(); err != nil {
		return nil, err
	}
	if cfg.LoadID == "" {
		cfg.LoadID = loader.NewLoadID()
	}
	started := time.Now()
	in := loader.NewIntake(&cfg, src)
	if more, err := in.Start(ctx); err != nil || !more {
		return &loader.Result{Rows: int64(in.Rows()), LoadID: cfg.LoadID}, err
	}
	r := &loadRun{cfg: &cfg, in: in, src: src, started: started, res: &loader.Result{DryRun: cfg.DryRun, LoadID: cfg.LoadID}}
	err := e.onSession(ctx, func(s *session) error { return s.loadRows(ctx, r) },
		func(s *session, err error) { s.recordFailure(&cfg, r.res, started, err) })
	return r.res, err
}

// inTx acquires one connection, begins, runs fn and commits (or, without
// commit, checks deferred constraints and rolls back); on any failure it
// rolls back and makes sure the connection goes back clean or not at all.
func (e *Executor) inTx(ctx context.Context, commit bool, fn func(*session) error) error {
	return e.onSession(ctx, func(s *session) error {
		if err := fn(s); err != nil {
			return err
		}
		return s.end(ctx, commit)
	}, nil)
}

// onSession acquires one connection, begins and runs fn, which ends the
// transaction (session.end) or leaves it to be rolled back (a dry run, a
// failure, a load that runs again); a transaction left open is rolled
// back, and the connection goes back clean or not at all. failed, when
// set, is told of a failure after the rollback, on the session: the load
// history records it there.
func (e *Executor) onSession(ctx context.Context, fn func(*session) error, failed func(*session, error)) error {
	conn, err := e.begin(ctx)
	if err != nil {
		return err
	}
	s := &session{conn: conn.Conn(), exec: e}
	defer conn.Release() // the pool destroys a closed conn or one left in a transaction
	err = fn(s)
	if err != nil || s.conn.PgConn().TxStatus() != 'I' {
		s.rollback()
	}
	if err != nil {
		if errors.As(err, new(*loader.PanicError)) {
			s.conn.Close(context.Background()) // whatever the panic left behind goes with it
		}
		return s.failed(ctx, err, failed)
	}
	return nil
}

// begin acquires a connection and opens the transaction with the load's
// settings. A pooled connection that turns out dead on BEGIN — nothing
// written yet — is replaced rather than reported.
func (e *Executor) begin(ctx context.Context) (*pgxpool.Conn, error) {
	if e.Pool == nil {
		return nil, &loader.ConnectError{Err: loader.ErrNoDatabase}
	}
	for attempt := 1; ; attempt++ {
		conn, err := e.acquire(ctx)
		if err != nil {
			return nil, err
		}
		err = e.migrate(ctx, conn.Conn()) // once per process, before the first load's BEGIN
		if ve := (*VersionError)(nil); errors.As(err, &ve) {
			conn.Release()
			return nil, &loader.LoadError{Kind: loader.KindInternal, Message: ve.Error(), Err: ve}
		}
		if err == nil {
			_, err = conn.Exec(ctx, e.beginSQL())
		}
		if err == nil {
			return conn, nil
		}
		dead := conn.Conn().IsClosed() || connFailure(err)
		if !dead {
			lerr := (&session{conn: conn.Conn()}).loadError(ctx, err)
			conn.Release()
			return nil, lerr
		}
		conn.Conn().Close(context.Background()) // already dead: nothing to learn from Close
		conn.Release()
		if ctx.Err() != nil {
			return nil, &loader.ConnectError{Err: err, Ctx: ctx.Err()}
		}
		if attempt >= maxStaleRetries+int(e.Pool.Config().MaxConns) {
			return nil, &loader.ConnectError{Err: fmt.Errorf("%d pooled connections in a row were dead: %w", attempt, err)}
		}
	}
}

// beginSQL is BEGIN and the SET LOCALs of every load, sent as one simple
// query: one round trip instead of four while PostgreSQL waits.
func (e *Executor) beginSQL() string {
	sql := "BEGIN"
	if e.StatementTimeout > 0 {
		sql += fmt.Sprintf("; SET LOCAL statement_timeout = %d", e.StatementTimeout.Milliseconds())
	}
	if e.IdleInTransactionTimeout > 0 {
		// A backstop behind the stream idle timeout: a session left idle
		// in its transaction is ended by the server itself.
		sql += fmt.Sprintf("; SET LOCAL idle_in_transaction_session_timeout = %d", e.IdleInTransactionTimeout.Milliseconds())
	}
	if e.LockTimeout > 0 {
		sql += fmt.Sprintf("; SET LOCAL lock_timeout = %d", e.LockTimeout.Milliseconds())
	}
	return sql
}

func (e *Executor) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx := ctx
	if e.AcquireTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, e.AcquireTimeout)
		defer cancel()
	}
	conn, err := e.Pool.Acquire(actx)
	switch {
	case err == nil:
		return conn, nil
	case ctx.Err() != nil:
		return nil, &loader.ConnectError{Err: err, Ctx: ctx.Err()}
	case actx.Err() != nil:
		st := e.Pool.Stat()
		return nil, &loader.ConnectError{Err: fmt.Errorf("no pooled connection free after waiting %s: all %d of pool_max_conns=%d are in use", e.AcquireTimeout, st.AcquiredConns(), st.MaxConns())}
	}
	return nil, &loader.ConnectError{Err: err}
}

// Ping checks that the database answers through the pool. A pool whose
// every connection is in use is busy, not down, and is not pinged. With no
// database configured the error is loader.ErrNoDatabase.
func (e *Executor) Ping(ctx context.Context) (busy bool, err error) {
	if e.Pool == nil {
		return false, loader.ErrNoDatabase
	}
	if st := e.Pool.Stat(); st.AcquiredConns() >= st.MaxConns() {
		return true, nil
	}
	return false, e.Pool.Ping(ctx)
}
