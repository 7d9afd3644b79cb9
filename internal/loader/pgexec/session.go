package pgexec

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// session is one load's connection inside its transaction.
type session struct {
	conn *pgx.Conn
	exec *Executor
	cfg  *loader.Config
}

// once runs load exactly once per request id: a request id the ledger has
// replays the recorded result (after the rest of the rows were read, so that
// the payload's digest is complete) and writes nothing; a new one runs load
// and records its result in the same transaction.
func (s *session) once(ctx context.Context, cfg *loader.Config, in *loader.Intake, res *loader.Result, load func() error) error {
	if cfg.RequestID == "" || cfg.DryRun {
		return load()
	}
	l := s.ledger()
	prev, err := l.claim(ctx, cfg.LedgerKey())
	if err != nil {
		return err
	}
	if prev != nil {
		if err := in.Drain(ctx); err != nil {
			return err
		}
		r, err := prev.replay(cfg.RequestID, cfg, in.Digest())
		if err != nil {
			return err
		}
		*res = *r
		return nil
	}
	if err := load(); err != nil {
		return err
	}
	return l.record(ctx, cfg.LedgerKey(), cfg, in.Digest(), res)
}

// ledger is the executor's ledger on this session.
func (s *session) ledger() *ledger {
	return &ledger{conn: s.conn, names: s.exec.Ledger.WithDefaults()}
}

// statementGrace is how much longer than statement_timeout the service
// waits for a statement's answer before it gives the session up as lost.
const statementGrace = 5 * time.Second

// bound limits one statement's wait for an answer when the executor has a
// statement timeout: PostgreSQL ends the statement itself, but its error
// cannot cross a dead network, and a client without a deadline would
// otherwise wait forever. The session is then closed and the load ABORTED.
func (s *session) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.exec == nil || s.exec.StatementTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.exec.StatementTimeout+statementGrace)
}

// rollback ends the transaction with a context of its own, since the
// request's may be done. If that fails the connection is closed, so the pool
// destroys it instead of handing out a dirty session.
func (s *session) rollback() {
	if s.conn.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.conn.Exec(ctx, "ROLLBACK"); err != nil || s.conn.PgConn().TxStatus() != 'I' {
		s.conn.Close(ctx) // closing is the fallback: the connection is closed whatever it returns
	}
}

// loadError wraps a failure after the session was acquired.
func (s *session) loadError(ctx context.Context, err error) error {
	var ve *loader.ValidationError
	var uc *loader.UnknownColumnError
	var ce *loader.ConflictError
	var pe *loader.PanicError
	var le *loader.LoadError // a careful load's verdict, classified already
	if errors.As(err, &ve) || errors.As(err, &uc) || errors.As(err, &ce) || errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, new(*loader.DeleteLimitError)) || errors.As(err, new(*loader.SessionError)) {
		return err
	}
	var se *loader.SourceError
	if errors.As(err, &se) { // the rows' own failure, not the database's
		return se.Err
	}
	return classify(ctx, err, s.conn.IsClosed() || connFailure(err))
}

// load runs one load's statements inside the session's transaction, the
// clean path of every load without a reject budget: the statements before
// the rows, one COPY per chunk, and the statements after. A keyed load that
// compares keys numbers its rows in the stage, where duplicates are found or
// dropped with PostgreSQL's equality.
func (s *session) load(ctx context.Context, r *loadRun) error {
	cfg, res := r.cfg, r.res
	r.feed.cols = positions(r.in.Columns(), r.write)
	r.feed.ordinal = cfg.Compares()
	if cfg.StampsCopy() {
		r.feed.stamp = cfg.LoadID
	}
	sc := loader.Render(cfg, loader.Shape{Columns: r.write, Unique: r.table.UniqueOnKeys, Lock: cfg.Locks(), Ordinal: r.feed.ordinal})
	for _, st := range sc.Pre {
		if err := s.run(ctx, st, res); err != nil {
			return err
		}
	}
	n, err := s.copyAll(ctx, r, sc)
	if err != nil {
		return err
	}
	if len(sc.Post) > 0 {
		// A keyed load's rows are all staged now: a row that breaks a
		// constraint in the apply can be traced from here (retrace).
		if err := s.exec1(ctx, "SAVEPOINT loadsvc_applied"); err != nil {
			return err
		}
	}
	for _, st := range sc.Post {
		// res.DuplicatesDropped holds the rows dropped from the stage by
		// the statements before this one.
		if err := s.run(ctx, st.WithRows(int64(n)-res.DuplicatesDropped), res); err != nil {
			if verdictOf(err) != nil {
				r.applied = n
			}
			return err
		}
	}
	if cfg.Mode == loader.ModeInsertMissing {
		res.Skipped = int64(n) - res.DuplicatesDropped - res.Inserted
	}
	return nil
}

// copyAll copies the rows in chunks of cfg.ChunkSize, one COPY each (or
// several, of pieceBytes each), and returns the number of rows copied. The
// piece whose COPY failed on a row is kept in r.failed, for diagnose; a
// source it can read again (loader.Replayer) needs none, so its pieces are
// not kept.
func (s *session) copyAll(ctx context.Context, r *loadRun, sc loader.Script) (int, error) {
	total := 0
	var buf []byte
	_, replays := r.src.(loader.Replayer)
	for {
		more, err := r.feed.more(ctx)
		if err != nil || !more {
			return total, err
		}
		st := sc.CopyOf(total, 0)
		for left := r.cfg.ChunkSize; left > 0; {
			if more, err := r.feed.more(ctx); err != nil || !more {
				if err != nil {
					return total, err
				}
				break
			}
			tag, p, err, rerr := s.copyPiece(ctx, st.SQL, r.feed, left, buf, !replays)
			if rerr != nil {
				return total, rerr // the source failed: a bad row, a broken stream
			}
			if err != nil {
				if !replays && verdictOf(err) != nil {
					r.failed = p
				}
				return total, err
			}
			buf = p.data[:0]
			left -= p.rows
			st.Rows += tag.RowsAffected()
		}
		total += int(st.Rows)
		r.res.Batches++
		r.res.Statements = append(r.res.Statements, st)
		if st.Role() == loader.RoleCopyTarget {
			r.res.Inserted += st.Rows
		}
	}
}

// copyPiece runs one COPY of up to n rows of the feed, and of at most
// pieceBytes of text, written into buf's memory; p is what it sent, its
// text only with keep (chunkReader). pgconn
// may return from CopyFrom (on a dead connection) while its goroutine is
// still inside the reader, so the reader gets a context of its own that is
// cancelled then, and is closed under its lock before the feed is touched
// again. rerr is the source's own failure, if it caused the COPY's.
func (s *session) copyPiece(ctx context.Context, sql string, rows *rowFeed, n int, buf []byte, keep bool) (tag pgconn.CommandTag, p *piece, err, rerr error) {
	rctx, cancel := context.WithCancel(ctx)
	r := &chunkReader{ctx: rctx, feed: rows, left: n, max: pieceBytes, keep: keep, kept: buf[:0]}
	bctx, bcancel := s.bound(ctx)
	tag, err = s.conn.PgConn().CopyFrom(bctx, r, sql)
	bcancel()
	cancel()
	r.mu.Lock()
	r.closed = true
	rerr = r.err
	p = r.piece()
	r.mu.Unlock()
	if errors.Is(rerr, context.Canceled) && ctx.Err() == nil && err != nil {
		rerr = nil // our own cancel after the COPY failed: report the COPY's error
	}
	return tag, p, err, rerr
}

// run executes one statement and adds its command tag to the counts.
func (s *session) run(ctx context.Context, st loader.Statement, res *loader.Result) error {
	res.Statements = append(res.Statements, st)
	switch st.Role() {
	case loader.RoleCountSkipped:
		qctx, cancel := s.bound(ctx)
		defer cancel()
		return s.conn.QueryRow(qctx, st.SQL, pgx.QueryExecModeSimpleProtocol).Scan(&res.Skipped)
	case loader.RoleFindDuplicate:
		return s.findDuplicate(ctx, st)
	}
	ectx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.conn.Exec(ectx, st.SQL)
	if err != nil {
		return err
	}
	switch st.Role() {
	case loader.RoleDelete:
		res.Deleted += tag.RowsAffected()
		return s.cfg.CheckDeleted(res.Deleted) // inside the transaction: the rollback undoes the DELETE
	case loader.RoleInsert:
		res.Inserted += tag.RowsAffected()
	case loader.RoleUpdate:
		res.Updated += tag.RowsAffected()
	case loader.RoleDropDuplicates:
		res.DuplicatesDropped += tag.RowsAffected()
	}
	return nil
}

// findDuplicate runs the stage's duplicate query and refuses the load when
// it finds a key given twice, naming both rows.
func (s *session) findDuplicate(ctx context.Context, st loader.Statement) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, st.SQL, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		return rows.Err()
	}
	vals, err := rows.Values()
	if err != nil {
		return err
	}
	prev, row := vals[0].(int64), vals[1].(int64)
	keys := make([]string, len(vals)-2)
	for i, v := range vals[2:] {
		keys[i] = v.(string)
	}
	return loader.DuplicateKey(s.cfg.Keys, int(prev), int(row), keys)
}
