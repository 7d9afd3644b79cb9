package pgexec

import (
	"bytes"
	"context"
	"math"
	"strconv"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// careful runs a load that must find every bad row, in the session's open
// transaction: a load with a reject budget, from its first row, or a clean
// load that failed, again (diagnose). It has two phases. The stage phase
// COPYs the rows into the stage, each piece under a savepoint; a piece that
// fails on a value is searched for its bad rows (stageFailed), and the rest
// of it staged. The apply phase runs the mode's statements on what was
// staged; a constraint that fails is traced to the staged rows that break
// it, which leave the stage, and the apply runs again (apply). carry is a
// piece to stage before the feed's rows. The outcome is the verdicts': the
// rejected rows in the result, or the failure naming every bad row.
func (s *session) careful(ctx context.Context, r *loadRun, feed *rowFeed, carry *piece) error {
	r.bad = newVerdicts(r.cfg)
	feed.cols = positions(r.in.Columns(), r.write)
	feed.ordinal = true
	sh := loader.Shape{Columns: r.write, Unique: r.table.UniqueOnKeys, Lock: r.cfg.Locks(), Ordinal: true, Staged: true}
	sc := loader.Render(r.cfg, sh)
	if err := s.prepare(ctx, sc, r.res); err != nil {
		return err
	}
	st := &stager{s: s, r: r, copySQL: loader.CopyStageSQL(r.cfg, sh), sh: sh}
	n, err := st.fill(ctx, sc, feed, carry)
	if err != nil {
		return err
	}
	return s.applyStaged(ctx, r, sh, sc, n)
}

// prepare readies the transaction of a careful apply: deferred constraints
// are checked at their statement, where a failure can be traced, not at
// COMMIT; then the statements before the rows run.
func (s *session) prepare(ctx context.Context, sc loader.Script, res *loader.Result) error {
	if err := s.exec1(ctx, "SET CONSTRAINTS ALL IMMEDIATE"); err != nil {
		return err
	}
	for _, st := range sc.Pre {
		if err := s.run(ctx, st, res); err != nil {
			return err
		}
	}
	return nil
}

// applyStaged is the apply phase of a careful load, or of a load session's
// commit, on the n rows of its stage: the outcome is the verdicts'.
func (s *session) applyStaged(ctx context.Context, r *loadRun, sh loader.Shape, sc loader.Script, n int) error {
	if !r.bad.done() {
		err := s.apply(ctx, r, sh, sc, n)
		if err != nil && (verdictOf(err) == nil || len(r.bad.rows) == 0) {
			return err
		}
		if err != nil {
			// A constraint no row explains stops the apply: the load
			// fails, reporting the bad rows found until then.
			r.bad.stop()
			r.bad.budget, r.bad.unexplained = 0, verdictOf(err)
		}
	}
	return r.bad.outcome(r.res, r.clean)
}

// exec1 runs one statement bounded by the statement timeout.
func (s *session) exec1(ctx context.Context, sql string) error {
	ectx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.conn.Exec(ectx, sql)
	return err
}

// stager is the stage phase of a careful load.
type stager struct {
	s       *session
	r       *loadRun
	sh      loader.Shape
	copySQL string // the COPY of whole lines into the stage
	buf     []byte
}

// fill stages the carried piece, then the feed's rows, and returns the
// number of rows staged. A piece is up to pieceBytes of COPY text, whatever
// the chunk size: each holds a subtransaction to the end of the load, so
// pieces are few (see the README). The result counts the batches of the
// chunk size as every load does, and lists each piece's COPY as it ran.
func (st *stager) fill(ctx context.Context, sc loader.Script, feed *rowFeed, carry *piece) (int, error) {
	total, read := 0, 0
	if carry != nil {
		n, err := st.stageFailed(ctx, carry.forStage())
		if err != nil {
			return 0, err
		}
		total, read = n, carry.rows
	}
	defer func() { st.r.res.Batches = (read + st.r.cfg.ChunkSize - 1) / st.r.cfg.ChunkSize }()
	for !st.r.bad.done() {
		more, err := feed.more(ctx)
		if err != nil || !more {
			return total, err
		}
		n, rows, err := st.stagePiece(ctx, feed, math.MaxInt)
		if err != nil {
			return total, err
		}
		copied := sc.CopyOf(read, 0)
		copied.Rows = int64(n)
		st.r.res.Statements = append(st.r.res.Statements, copied)
		total += n
		read += rows
	}
	st.r.bad.stop() // rows were left unread
	return total, nil
}

// stagePiece COPYs up to left rows of the feed under a savepoint; a piece
// that fails on a value is rolled back and searched. It returns the rows
// staged and the rows read.
func (st *stager) stagePiece(ctx context.Context, feed *rowFeed, left int) (staged, read int, err error) {
	s := st.s
	if err := s.exec1(ctx, "SAVEPOINT loadsvc_piece"); err != nil {
		return 0, 0, err
	}
	tag, p, err, rerr := s.copyPiece(ctx, st.copySQL, feed, left, st.buf, true)
	if rerr != nil {
		return 0, 0, rerr
	}
	if err == nil {
		st.buf = p.data[:0]
		return int(tag.RowsAffected()), p.rows, s.exec1(ctx, "RELEASE SAVEPOINT loadsvc_piece")
	}
	if verdictOf(err) == nil {
		return 0, 0, err
	}
	if err := s.exec1(ctx, "ROLLBACK TO SAVEPOINT loadsvc_piece; RELEASE SAVEPOINT loadsvc_piece"); err != nil {
		return 0, 0, err
	}
	staged, err = st.stageFailed(ctx, p)
	return staged, p.rows, err
}

// searchParts is how many parts a failed piece, or part, is split into.
const searchParts = 16

// stageFailed finds the bad rows of a piece whose COPY failed: its parts
// are COPYed under a savepoint that is always rolled back (no subtransaction
// stays, however many are tried), a failing part is split again, and each
// failing row is probed value by value. The good rows are then staged in
// one COPY, which cannot fail on a value. It returns the rows staged.
func (st *stager) stageFailed(ctx context.Context, p *piece) (int, error) {
	good, err := st.sort(ctx, p.data)
	if err != nil || len(good) == 0 {
		return 0, err
	}
	tag, err := st.copy(ctx, st.copySQL, good)
	return int(tag), err
}

// sort finds the bad rows of data, COPY lines that failed together, and
// returns the good ones; nothing is staged.
func (st *stager) sort(ctx context.Context, data []byte) ([]byte, error) {
	s := st.s
	if err := s.exec1(ctx, "SAVEPOINT loadsvc_probe"); err != nil {
		return nil, err
	}
	good := make([]byte, 0, len(data))
	ls := splitLines(data)
	if err := st.search(ctx, ls, 0, len(ls.ends), &good); err != nil {
		return nil, err
	}
	return good, s.exec1(ctx, "RELEASE SAVEPOINT loadsvc_probe")
}

// search sorts the lines [from, to) of ls, which failed together, into
// good ones (appended to good) and bad ones (probed), until the verdicts
// are done.
func (st *stager) search(ctx context.Context, ls textLines, from, to int, good *[]byte) error {
	size := (to - from + searchParts - 1) / searchParts
	for i := from; i < to && !st.r.bad.done(); i += size {
		j := min(i+size, to)
		data := ls.span(i, j)
		err := st.try(ctx, st.copySQL, data)
		switch {
		case err == nil:
			*good = append(*good, data...)
		case verdictOf(err) == nil:
			return err
		case j-i == 1:
			if err := st.probe(ctx, data, err); err != nil {
				return err
			}
		default:
			if err := st.search(ctx, ls, i, j, good); err != nil {
				return err
			}
		}
	}
	if st.r.bad.done() {
		st.r.bad.stop()
	}
	return nil
}

// probe finds the bad values of one row, COPYing each of its values alone
// into its column: each one PostgreSQL refuses is a verdict with its own
// SQLSTATE and message. rowErr is the whole row's failure: when no single
// value fails, it is the row's verdict.
func (st *stager) probe(ctx context.Context, line []byte, rowErr error) error {
	fields := loader.CopyFields(line[:len(line)-1])
	ord, err := strconv.ParseInt(string(fields[len(fields)-1]), 10, 64)
	if err != nil {
		return err
	}
	found := false
	for i, col := range st.r.write {
		value, null := loader.CopyValue(fields[i])
		if null {
			continue
		}
		err := st.try(ctx, loader.CopyStageSQL(st.r.cfg, st.sh, col), append(fields[i][:len(fields[i]):len(fields[i])], '\n'))
		pg := verdictOf(err)
		if err != nil && pg == nil {
			return err
		}
		if pg != nil {
			found = true
			st.r.bad.add(verdict{RowError: loader.RowError{Row: ord, Column: col, Value: value, SQLState: pg.Code, Message: pg.Message, Constraint: pg.ConstraintName}, pg: pg})
		}
	}
	if !found {
		pg := verdictOf(rowErr)
		st.r.bad.add(verdict{RowError: loader.RowError{Row: ord, SQLState: pg.Code, Message: pg.Message, Constraint: pg.ConstraintName}, pg: pg})
	}
	return nil
}

// try COPYs data with sql and rolls it back to the probe savepoint.
func (st *stager) try(ctx context.Context, sql string, data []byte) error {
	_, err := st.copy(ctx, sql, data)
	if rerr := st.s.exec1(ctx, "ROLLBACK TO SAVEPOINT loadsvc_probe"); rerr != nil {
		return rerr
	}
	return err
}

// copy runs one COPY of data.
func (st *stager) copy(ctx context.Context, sql string, data []byte) (int64, error) {
	bctx, cancel := st.s.bound(ctx)
	defer cancel()
	tag, err := st.s.conn.PgConn().CopyFrom(bctx, bytes.NewReader(data), sql)
	return tag.RowsAffected(), err
}
