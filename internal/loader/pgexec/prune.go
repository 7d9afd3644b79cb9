package pgexec

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// pruneLockClass keys the advisory lock that lets one replica at a time
// prune the history ('lhst' as int4).
const pruneLockClass = "1818784628"

// PruneBatch is how many records one DELETE of PruneHistory removes, so
// that no statement holds many row locks or runs long.
const PruneBatch = 10000

// PruneHistory deletes the history records of loads started more than
// retention ago, PruneBatch at a time. Each DELETE is a transaction of its
// own that first takes the prune lock (a transaction lock, which PgBouncer
// in transaction mode keeps): when another replica holds it, this one
// stops, and ran is false if it deleted nothing yet.
func (e *Executor) PruneHistory(ctx context.Context, retention time.Duration) (deleted int64, ran bool, err error) {
	if e.Pool == nil {
		return 0, false, loader.ErrNoDatabase
	}
	conn, err := e.acquire(ctx)
	if err != nil {
		return 0, false, err
	}
	defer conn.Release()
	if err := e.migrate(ctx, conn.Conn()); err != nil {
		return 0, false, err
	}
	h := loader.HistoryOf(e.Ledger)
	sql := "DELETE FROM " + h.Target() + " WHERE load_id IN (SELECT load_id FROM " + h.Target() +
		" WHERE started_at < now() - make_interval(secs => $1) ORDER BY started_at LIMIT " + strconv.Itoa(PruneBatch) + ")"
	for {
		n, locked, err := pruneBatch(ctx, conn.Conn(), sql, retention)
		deleted += n
		ran = ran || locked
		if err != nil || !locked || n < PruneBatch {
			return deleted, ran, err
		}
	}
}

// pruneBatch runs one DELETE of sql in a transaction holding the prune
// lock; locked is false when another replica holds it.
func pruneBatch(ctx context.Context, conn *pgx.Conn, sql string, retention time.Duration) (n int64, locked bool, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() {
		if err != nil || !locked {
			err = joinRollback(err, tx)
		}
	}()
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock("+pruneLockClass+", 0)", pgx.QueryExecModeSimpleProtocol).Scan(&locked); err != nil || !locked {
		return 0, false, err
	}
	tag, err := tx.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol, retention.Seconds())
	if err != nil {
		return 0, true, err
	}
	return tag.RowsAffected(), true, tx.Commit(ctx)
}

// joinRollback ends a transaction that is not to commit.
func joinRollback(err error, tx pgx.Tx) error {
	if rerr := rollbackQuietly(tx); rerr != nil && err == nil {
		return rerr
	}
	return err
}
