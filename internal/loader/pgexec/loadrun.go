package pgexec

import (
	"context"
	"time"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// loadRun is one executing load on its session: its config, its rows and
// what the catalog and the database said of them.
type loadRun struct {
	cfg  *loader.Config
	in   *loader.Intake
	src  loader.Source // the request's own, which a unary one can replay
	res  *loader.Result
	feed *rowFeed
	// started is when the load began, for its history record.
	started time.Time
	// table and write are the catalog's view of the target and the
	// columns the load writes.
	table *loader.Table
	write []string
	// failed is the piece whose COPY failed on a row, on the clean path,
	// and clean that path's failure.
	failed *piece
	clean  error
	// applied is the rows staged when the apply of a keyed load failed on
	// a row, the stage intact under the savepoint loadsvc_applied; 0 else.
	applied int
	// bad is what a careful load found wrong with its rows.
	bad *verdicts
}

// loadRows runs the load: with a reject budget carefully from its first
// row (careful), else on the clean path (load); a clean load that fails on
// a row is run again carefully to report every bad row (diagnose).
func (s *session) loadRows(ctx context.Context, r *loadRun) error {
	s.cfg = r.cfg
	r.feed = &rowFeed{src: r.in}
	if more, err := r.feed.more(ctx); err != nil || !more {
		return err
	}
	if err := s.describe(ctx, r); err != nil {
		return err
	}
	if r.cfg.MaxRejectedRows > 0 {
		return s.finish(ctx, r, func() error { return s.careful(ctx, r, r.feed, nil) })
	}
	err := s.finish(ctx, r, func() error { return s.load(ctx, r) })
	if verdictOf(err) == nil || ctx.Err() != nil || s.conn.IsClosed() {
		return err
	}
	return s.diagnose(ctx, r, err)
}

// describe reads the target from the catalog and settles the columns the
// load writes, before any write.
func (s *session) describe(ctx context.Context, r *loadRun) error {
	dctx, cancel := s.bound(ctx)
	table, err := Describe(dctx, s.conn, r.cfg)
	cancel()
	if err != nil {
		return err
	}
	r.res.Resolved = true
	write, skipped, err := table.Writable(r.cfg, r.in.Columns())
	if err != nil {
		return err
	}
	r.table, r.write, r.res.SkippedColumns = table, write, skipped
	return s.checkStamp(ctx, r.cfg, table, r.in.Columns())
}

// finish runs load once per request id (session.once), records a load
// that will commit in the history, and ends the transaction (end): a dry
// run is not committed.
func (s *session) finish(ctx context.Context, r *loadRun, load func() error) error {
	err := s.once(ctx, r.cfg, r.in, r.res, func() error {
		err := load()
		r.res.Rows = int64(r.in.Rows()) // before the ledger records res
		if err == nil && !r.cfg.DryRun {
			err = s.commitRecord(ctx, r.cfg, r.res, r.started) // the last write before COMMIT
		}
		return err
	})
	if err != nil {
		return err
	}
	return s.end(ctx, !r.cfg.DryRun)
}

// end ends the transaction: COMMIT, or without commit what COMMIT would
// check, the deferred constraints, leaving the rollback to the caller
// (onSession).
func (s *session) end(ctx context.Context, commit bool) error {
	if commit {
		return s.exec1(ctx, "COMMIT")
	}
	return s.exec1(ctx, "SET CONSTRAINTS ALL IMMEDIATE")
}

// diagnose follows a clean load that failed on a row (first): it rolls
// that back and runs the load again carefully, in a new transaction that
// is never committed, to find every bad row. A unary load is read again
// from its first row; a stream has only the failed piece and the rows
// after it, the rows before having passed (see the README). What the
// careful run cannot pin on rows leaves first as the answer.
func (s *session) diagnose(ctx context.Context, r *loadRun, first error) error {
	if r.applied > 0 && !s.conn.IsClosed() {
		return s.retrace(ctx, r, first)
	}
	s.rollback()
	if s.conn.IsClosed() {
		return first
	}
	if _, err := s.conn.Exec(ctx, s.exec.beginSQL()); err != nil {
		return first
	}
	feed, carry := r.feed, r.failed
	feed.stamp = "" // the careful run stages append and replace: the apply stamps
	if rp, ok := r.src.(loader.Replayer); ok {
		feed, carry = &rowFeed{src: rp.Replay(), cols: r.feed.cols}, nil
	} else if carry == nil {
		return first // the rows are gone: the apply failed after the last COPY
	}
	*r.res = loader.Result{DryRun: r.cfg.DryRun, Resolved: true, SkippedColumns: r.res.SkippedColumns, LoadID: r.res.LoadID}
	r.clean = first
	err := s.careful(ctx, r, feed, carry)
	r.res.Rows = int64(r.in.Rows())
	if err == nil {
		return first
	}
	return err
}

// retrace follows a keyed load whose apply failed on a row, every row
// staged: back at the savepoint before the apply, it numbers the staged
// rows in load order (the stage holds them in the order they were copied)
// unless they are numbered already, and applies the stage as a careful
// load does, so that a stream too names every row that breaks a
// constraint. The transaction is never committed.
func (s *session) retrace(ctx context.Context, r *loadRun, first error) error {
	if err := s.exec1(ctx, "ROLLBACK TO SAVEPOINT loadsvc_applied"); err != nil {
		return first
	}
	sh := loader.Shape{Columns: r.write, Unique: r.table.UniqueOnKeys, Lock: r.cfg.Locks(), Ordinal: true, Staged: true, Stage: loader.TempStage(r.cfg)}
	if !r.feed.ordinal {
		if err := s.exec1(ctx, loader.NumberStageSQL(sh.Stage)); err != nil {
			return first
		}
	}
	*r.res = loader.Result{DryRun: r.cfg.DryRun, Resolved: true, SkippedColumns: r.res.SkippedColumns, LoadID: r.res.LoadID,
		Batches: r.res.Batches, Statements: r.res.Statements}
	r.clean, r.bad = first, newVerdicts(r.cfg)
	sc := loader.Render(r.cfg, sh)
	err := s.prepare(ctx, sc, r.res)
	if err == nil {
		err = s.applyStaged(ctx, r, sh, sc, r.applied)
	}
	r.res.Rows = int64(r.in.Rows())
	if err == nil {
		return first
	}
	return err
}
