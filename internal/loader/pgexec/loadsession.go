package pgexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// loadSession is one row of loadsvc.load_sessions, read and locked inside
// a call's transaction: the session's config, its stage and what it may
// write, and its state.
type loadSession struct {
	exec                    *Executor
	id                      string
	cfg                     loader.Config
	stageSchema, stageTable string
	writable, generated     []string
	committed, expired      bool
	result                  *loader.Result
	expires                 time.Time
	rows                    int64 // the rows a commit applies, once it counted them
	maxRows                 int64 // SessionStore.MaxRows
	maxWriters              int64 // SessionStore.MaxWriters, defaulted
}

// writerColumn is the stage column that names each row's writer; with the
// ordinal (the row's offset in its writer, loader.StageOrdinal) it orders
// the session's rows: by writer, then offset.
const writerColumn = "loadsvc_writer"

// sessionColumns are what scanSession reads of a session's row; expiry is
// decided by the database's clock, the same for every replica.
const sessionColumns = "session_id, config::text, stage_schema, stage_table, writable, generated, state = 'committed', result::text, expires_at, expires_at <= now()"

func scanSession(row pgx.CollectableRow) (*loadSession, error) {
	ls := &loadSession{}
	var cfg string
	var result *string
	if err := row.Scan(&ls.id, &cfg, &ls.stageSchema, &ls.stageTable, &ls.writable, &ls.generated, &ls.committed, &result, &ls.expires, &ls.expired); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cfg), &ls.cfg); err != nil {
		return nil, fmt.Errorf("load session %s: its config: %w", ls.id, err)
	}
	if err := ls.cfg.Check(); err != nil {
		return nil, fmt.Errorf("load session %s: its config: %w", ls.id, err)
	}
	if result != nil {
		ls.result = &loader.Result{}
		if err := json.Unmarshal([]byte(*result), ls.result); err != nil {
			return nil, fmt.Errorf("load session %s: its result: %w", ls.id, err)
		}
	}
	return ls, nil
}

// stage is the session's stage as written in SQL.
func (ls *loadSession) stage() string {
	return loader.QuoteIdent(ls.stageSchema) + "." + loader.QuoteIdent(ls.stageTable)
}

// createStage is the stage's DDL: the table's writable columns with their
// types, without their constraints, the writer and the ordinal; UNLOGGED,
// since a stage is cheap to lose next to what WAL would cost every row.
func (ls *loadSession) createStage() string {
	cols := ""
	for _, c := range ls.writable {
		cols += loader.QuoteIdent(c) + ", "
	}
	return "CREATE UNLOGGED TABLE " + ls.stage() + " AS SELECT " + cols + "NULL::text AS " + writerColumn + ", NULL::bigint AS " + loader.QuoteIdent(loader.StageOrdinal) +
		" FROM " + ls.cfg.Target() + " WITH NO DATA"
}

// insert records the new session, which expires ttl from now by the
// database's clock.
func (ls *loadSession) insert(ctx context.Context, s *session, ttl time.Duration) error {
	raw, err := json.Marshal(ls.cfg)
	if err != nil {
		return err
	}
	return s.conn.QueryRow(ctx, "INSERT INTO "+ls.exec.sessionsTable()+
		" (session_id, principal, config, stage_schema, stage_table, writable, generated, expires_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, now() + $8::bigint * interval '1 microsecond') RETURNING expires_at",
		pgx.QueryExecModeSimpleProtocol, ls.id, ls.cfg.Principal, string(raw), ls.stageSchema, ls.stageTable, ls.writable, ls.generated, ttl.Microseconds()).Scan(&ls.expires)
}

// usable refuses a call on a session that takes no more rows.
func (ls *loadSession) usable() error {
	switch {
	case ls.committed:
		return &loader.SessionError{Kind: loader.SessionCommitted, ID: ls.id}
	case ls.expired:
		return &loader.SessionError{Kind: loader.SessionExpired, ID: ls.id, ExpiresAt: ls.expires}
	}
	return nil
}

// session is the session as callers see it, with every writer's next
// offset.
func (ls *loadSession) session(ctx context.Context, s *session) (*loader.Session, error) {
	out := &loader.Session{ID: ls.id, Config: ls.cfg, ExpiresAt: ls.expires, Committed: ls.committed, Result: ls.result, Writers: map[string]int64{}}
	rows, err := s.conn.Query(ctx, "SELECT writer, next_offset FROM "+ls.exec.writersTable()+" WHERE session_id = $1", pgx.QueryExecModeSimpleProtocol, ls.id)
	if err != nil {
		return nil, err
	}
	var w string
	var next int64
	_, err = pgx.ForEachRow(rows, []any{&w, &next}, func() error {
		out.Writers[w] = next
		out.Rows += next
		return nil
	})
	return out, err
}

// append stores a writer's batch unless its offset says it was stored
// already: the writer's row is locked, so that a writer's batches are
// decided one at a time, while other writers append side by side. Only a
// writer's first batch with rows inserts its row: an empty batch adds no
// writer.
func (ls *loadSession) append(ctx context.Context, s *session, a *loader.Append) (*loader.Appended, error) {
	w := ls.exec.writersTable()
	out := &loader.Appended{Writer: a.Writer}
	n := int64(a.Batch.Len())
	lock := func() error {
		return s.conn.QueryRow(ctx, "SELECT next_offset FROM "+w+" WHERE session_id = $1 AND writer = $2 FOR UPDATE", pgx.QueryExecModeSimpleProtocol, ls.id, a.Writer).Scan(&out.NextOffset)
	}
	err := lock()
	switch {
	case errors.Is(err, pgx.ErrNoRows) && n == 0:
		err = nil // next offset 0
	case errors.Is(err, pgx.ErrNoRows):
		if err = ls.holdWriters(ctx, s, a.Writer); err != nil {
			return nil, err
		}
		if _, err = s.conn.Exec(ctx, "INSERT INTO "+w+" (session_id, writer) VALUES ($1, $2) ON CONFLICT DO NOTHING", pgx.QueryExecModeSimpleProtocol, ls.id, a.Writer); err == nil {
			err = lock()
		}
	}
	if err != nil {
		return nil, err
	}
	if stored, err := loader.OffsetCheck(a, n, out.NextOffset); err != nil || stored || n == 0 {
		return out, err
	}
	if err := ls.holdRows(ctx, s, n); err != nil {
		return nil, err
	}
	write, skipped, err := ls.checkBatch(a.Batch)
	if err != nil {
		return nil, err
	}
	if err := ls.copyBatch(ctx, s, a, write); err != nil {
		return nil, err
	}
	skipped = append([]string{}, skipped...) // never NULL
	if _, err := s.conn.Exec(ctx, "UPDATE "+w+" SET next_offset = next_offset + $3, batches = batches + 1,"+
		" columns = ARRAY(SELECT DISTINCT c FROM unnest(columns || $4::text[]) AS c ORDER BY 1),"+
		" skipped = ARRAY(SELECT DISTINCT c FROM unnest(skipped || $5::text[]) AS c ORDER BY 1)"+
		" WHERE session_id = $1 AND writer = $2", pgx.QueryExecModeSimpleProtocol, ls.id, a.Writer, n, write, skipped); err != nil {
		return nil, err
	}
	out.NextOffset += n
	out.Rows = n
	return out, nil
}

// holdRows refuses a batch of n rows that would take the session's stage
// past maxRows. Writers append side by side, so the stage may pass it by
// the batches being stored at this moment, each within LOADSVC_MAX_ROWS.
func (ls *loadSession) holdRows(ctx context.Context, s *session, n int64) error {
	if ls.maxRows <= 0 {
		return nil
	}
	var stored int64
	if err := s.conn.QueryRow(ctx, "SELECT coalesce(sum(next_offset), 0)::bigint FROM "+ls.exec.writersTable()+" WHERE session_id = $1",
		pgx.QueryExecModeSimpleProtocol, ls.id).Scan(&stored); err != nil {
		return err
	}
	if stored+n > ls.maxRows {
		return &loader.ValidationError{Field: "rows", Row: -1, Limit: true, Reason: fmt.Sprintf(
			"load session %s holds %d rows; %d more would pass the most one session may hold (LOADSVC_MAX_SESSION_ROWS=%d); commit it and begin another", ls.id, stored, n, ls.maxRows)}
	}
	return nil
}

// holdWriters refuses a new writer past maxWriters. New writers are added
// side by side, so the session may pass it by those being added at this
// moment.
func (ls *loadSession) holdWriters(ctx context.Context, s *session, writer string) error {
	var n int64
	if err := s.conn.QueryRow(ctx, "SELECT count(*) FROM "+ls.exec.writersTable()+" WHERE session_id = $1",
		pgx.QueryExecModeSimpleProtocol, ls.id).Scan(&n); err != nil {
		return err
	}
	if n >= ls.maxWriters {
		return &loader.ValidationError{Field: "writer", Row: -1, Limit: true, Reason: fmt.Sprintf(
			"load session %s holds %d writers, the most one session may (%d); append as one of them rather than as writer %q, or commit it and begin another", ls.id, n, ls.maxWriters, loader.Cap(writer))}
	}
	return nil
}

// checkBatch splits a batch's columns into those the stage takes and the
// generated ones left out (an unknown column is refused), and checks its
// key values, as the intake of a load does.
func (ls *loadSession) checkBatch(b *loader.Batch) (write, skipped []string, err error) {
	table := &loader.Table{Columns: append(append([]string(nil), ls.writable...), ls.generated...), Generated: map[string]bool{}}
	for _, g := range ls.generated {
		table.Generated[g] = true
	}
	write, skipped, err = table.Writable(&ls.cfg, b.Columns)
	if err != nil || len(ls.cfg.Keys) == 0 {
		return write, skipped, err
	}
	keys, err := loader.KeyIndexes(b, ls.cfg.Keys)
	if err == nil {
		err = ls.cfg.CheckKeys(b, keys)
	}
	return write, skipped, err
}

// copyBatch copies the batch's written columns into the stage, each row
// with its writer and its offset in the writer. A batch the stage refuses
// on a value (a data exception) is rolled back and searched for every bad
// value (badValues).
func (ls *loadSession) copyBatch(ctx context.Context, s *session, a *loader.Append, write []string) error {
	cols := ""
	for _, c := range write {
		cols += loader.QuoteIdent(c) + ", "
	}
	sql := "COPY " + ls.stage() + " (" + cols + writerColumn + ", " + loader.QuoteIdent(loader.StageOrdinal) + ") FROM STDIN"
	if err := s.exec1(ctx, "SAVEPOINT loadsvc_append"); err != nil {
		return err
	}
	cctx, cancel := s.bound(ctx)
	_, err := s.conn.PgConn().CopyFrom(cctx, ls.stageRows(a, write), sql)
	cancel()
	if verdictOf(err) == nil || ctx.Err() != nil || s.conn.IsClosed() {
		return err
	}
	if rerr := s.exec1(ctx, "ROLLBACK TO SAVEPOINT loadsvc_append"); rerr != nil {
		return err
	}
	return ls.badValues(ctx, s, a, write, sql, err)
}

func (ls *loadSession) stageRows(a *loader.Append, write []string) *stageRows {
	return &stageRows{batch: a.Batch, cols: positions(a.Batch.Columns, write), offset: a.Offset,
		writer: loader.AppendCopyRow(nil, []loader.Field{{Text: a.Writer}}, []int{0})}
}

// badPieceBytes bounds the COPY text of a failed batch that badValues
// searches at once: a piece is held twice (its rows, and the good ones
// stager.sort gathers), and the writer's name on every row makes the text
// of a batch of small rows many times its message, which the budget
// counted.
const badPieceBytes = 1 << 20

// badValues finds every bad value of a batch whose COPY (sql) failed with
// first, as a careful load searches a failed piece (stager.sort), a piece
// of badPieceBytes at a time, and fails the append naming them by the
// writer's offset of their rows; nothing of the batch is stored. What no
// row explains leaves first as the answer.
func (ls *loadSession) badValues(ctx context.Context, s *session, a *loader.Append, write []string, sql string, first error) error {
	r := &loadRun{cfg: &ls.cfg, res: &loader.Result{}, write: write, bad: newVerdicts(&ls.cfg)}
	r.bad.budget = 0 // an append stores all of its batch or nothing
	st := &stager{s: s, r: r, sh: loader.Shape{Columns: write, Stage: ls.stage()}, copySQL: sql}
	rows := ls.stageRows(a, write)
	for data := rows.piece(badPieceBytes); len(data) > 0 && !r.bad.done(); data = rows.piece(badPieceBytes) {
		if _, err := st.sort(ctx, data); err != nil {
			return err
		}
	}
	if len(r.bad.rows) == 0 {
		return first
	}
	return r.bad.outcome(r.res, first)
}

// commit applies the stage to the table with the config's mode, exactly
// once by the config's request id, then drops the stage and keeps the
// result in the session's row.
func (ls *loadSession) commit(ctx context.Context, s *session) error {
	res := &loader.Result{}
	var cols []string
	var batches int64
	if err := s.conn.QueryRow(ctx, "SELECT coalesce(sum(next_offset), 0)::bigint, coalesce(sum(batches), 0)::bigint,"+
		" ARRAY(SELECT DISTINCT c FROM "+ls.exec.writersTable()+" AS w, unnest(w.columns) AS c WHERE w.session_id = $1 ORDER BY 1),"+
		" ARRAY(SELECT DISTINCT c FROM "+ls.exec.writersTable()+" AS w, unnest(w.skipped) AS c WHERE w.session_id = $1 ORDER BY 1)"+
		" FROM "+ls.exec.writersTable()+" WHERE session_id = $1", pgx.QueryExecModeSimpleProtocol, ls.id).
		Scan(&res.Rows, &batches, &cols, &res.SkippedColumns); err != nil {
		return err
	}
	res.Batches, ls.rows = int(batches), res.Rows
	if len(res.SkippedColumns) == 0 {
		res.SkippedColumns = nil
	}
	s.cfg = &ls.cfg
	if ls.cfg.LoadID == "" { // a session begun before load ids
		ls.cfg.LoadID = loader.NewLoadID()
	}
	res.LoadID = ls.cfg.LoadID
	started := time.Now()
	err := ls.once(ctx, s, res, func() error {
		if err := ls.apply(ctx, s, cols, res); err != nil {
			return err
		}
		return s.commitRecord(ctx, &ls.cfg, res, started) // in the commit's transaction
	})
	if err != nil {
		return err
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if _, err := s.conn.Exec(ctx, "DROP TABLE "+ls.stage()); err != nil {
		return err
	}
	_, err = s.conn.Exec(ctx, "UPDATE "+ls.exec.sessionsTable()+" SET state = 'committed', result = $2::jsonb WHERE session_id = $1",
		pgx.QueryExecModeSimpleProtocol, ls.id, string(raw))
	ls.committed, ls.result = true, res
	return err
}

// once runs apply unless the ledger holds the config's request id: then
// the recorded result is replayed, when it was recorded for the same table
// and payload. A session's payload is its config and its count of rows.
func (ls *loadSession) once(ctx context.Context, s *session, res *loader.Result, apply func() error) error {
	if ls.cfg.RequestID == "" {
		return apply()
	}
	l := s.ledger()
	prev, err := l.claim(ctx, ls.cfg.LedgerKey())
	if err != nil {
		return err
	}
	digest := loader.SessionDigest(&ls.cfg, res.Rows)
	if prev != nil {
		r, err := prev.replay(ls.cfg.RequestID, &ls.cfg, digest)
		if err == nil {
			*res = *r
		}
		return err
	}
	if err := apply(); err != nil {
		return err
	}
	return l.record(ctx, ls.cfg.LedgerKey(), &ls.cfg, digest, res)
}

// apply runs the mode's statements (loader.Render) over the stage, as the
// statements after a load's COPY run over its TEMP stage. A session that
// compares keys numbers its rows first in its load order: by writer, then
// offset.
func (ls *loadSession) apply(ctx context.Context, s *session, cols []string, res *loader.Result) error {
	if res.Rows == 0 {
		res.Resolved = true
		return nil
	}
	if err := ls.checkStage(ctx, s, res.Rows); err != nil {
		return err
	}
	cfg := &ls.cfg
	table, err := Describe(ctx, s.conn, cfg)
	if err != nil {
		return err
	}
	res.Resolved = true
	if err := s.checkStamp(ctx, cfg, table, cols); err != nil {
		return err
	}
	// The rows are numbered in load order when the mode compares keys, and
	// for a careful apply (which numbers them itself when the clean one
	// fails).
	sh := loader.Shape{Columns: cols, Unique: table.UniqueOnKeys, Lock: cfg.Locks(), Ordinal: cfg.Compares() || cfg.MaxRejectedRows > 0, Stage: ls.stage()}
	if sh.Ordinal {
		if err := ls.number(ctx, s); err != nil {
			return err
		}
	}
	r := &loadRun{cfg: cfg, res: res, table: table, write: cols}
	if cfg.MaxRejectedRows > 0 {
		return ls.careful(ctx, s, r, sh)
	}
	if err := s.exec1(ctx, "SAVEPOINT loadsvc_commit"); err != nil {
		return err
	}
	err = ls.applyClean(ctx, s, sh, res)
	if err == nil {
		// Deferred constraints are checked here, where a failure can
		// still be traced, not at COMMIT.
		err = s.exec1(ctx, "SET CONSTRAINTS ALL IMMEDIATE")
	}
	if err == nil {
		return s.exec1(ctx, "RELEASE SAVEPOINT loadsvc_commit")
	}
	if verdictOf(err) == nil || ctx.Err() != nil || s.conn.IsClosed() {
		return err
	}
	// A row broke a constraint: the apply runs again carefully, to name
	// every bad row.
	if rerr := s.exec1(ctx, "ROLLBACK TO SAVEPOINT loadsvc_commit; RELEASE SAVEPOINT loadsvc_commit"); rerr != nil {
		return err
	}
	*res = loader.Result{Rows: res.Rows, Batches: res.Batches, SkippedColumns: res.SkippedColumns, LoadID: res.LoadID, Resolved: true}
	r.clean = err
	return ls.careful(ctx, s, r, sh)
}

// number sets each staged row's ordinal to its index in the session's load
// order: by writer, then offset.
func (ls *loadSession) number(ctx context.Context, s *session) error {
	ord := loader.QuoteIdent(loader.StageOrdinal)
	_, err := s.conn.Exec(ctx, "UPDATE "+ls.stage()+" AS t SET "+ord+" = r.n FROM (SELECT ctid AS c, row_number() OVER (ORDER BY "+writerColumn+", "+ord+") - 1 AS n FROM "+
		ls.stage()+") AS r WHERE t.ctid = r.c")
	return err
}

// applyClean runs the mode's statements over the stage once, as a load
// with no bad row runs them.
func (ls *loadSession) applyClean(ctx context.Context, s *session, sh loader.Shape, res *loader.Result) error {
	cfg := &ls.cfg
	sc := loader.Render(cfg, sh)
	for _, st := range sc.Pre {
		if err := s.run(ctx, st, res); err != nil {
			return err
		}
	}
	for _, st := range sc.Post {
		if err := s.run(ctx, st.WithRows(res.Rows-res.DuplicatesDropped), res); err != nil {
			return err
		}
	}
	if cfg.Mode == loader.ModeInsertMissing {
		res.Skipped = res.Rows - res.DuplicatesDropped - res.Inserted
	}
	return nil
}

// careful applies the stage as a careful load applies its own (see
// session.applyStaged): a constraint that fails is traced to the rows that
// break it, known by their index in the session's load order, which are
// rejected within the config's max_rejected_rows, or else fail the commit,
// naming each one with its writer and the writer's offset of it.
func (ls *loadSession) careful(ctx context.Context, s *session, r *loadRun, sh loader.Shape) error {
	if !sh.Ordinal {
		if err := ls.number(ctx, s); err != nil {
			return err
		}
	}
	sh.Ordinal, sh.Staged = true, true
	spans, err := ls.spans(ctx, s)
	if err != nil {
		return err
	}
	r.bad = newVerdicts(r.cfg)
	sc := loader.Render(r.cfg, sh)
	if err := s.prepare(ctx, sc, r.res); err != nil {
		return err
	}
	err = s.applyStaged(ctx, r, sh, sc, int(r.res.Rows))
	var le *loader.LoadError
	switch {
	case err == nil:
		spans.name(r.res.Rejected)
	case errors.As(err, &le) && le.Rows != nil:
		spans.name(le.Rows.Errors)
	}
	return err
}

// writerSpans are the session's writers in its load order, each with its
// count of rows: row i of the session is the writer's whose span holds it.
type writerSpans struct {
	writers []string
	rows    []int64
}

// spans reads the writers in the order number numbers their rows (the
// same column type, so the same collation).
func (ls *loadSession) spans(ctx context.Context, s *session) (*writerSpans, error) {
	rows, err := s.conn.Query(ctx, "SELECT writer, next_offset FROM "+ls.exec.writersTable()+" WHERE session_id = $1 ORDER BY writer", pgx.QueryExecModeSimpleProtocol, ls.id)
	if err != nil {
		return nil, err
	}
	out := &writerSpans{}
	var w string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&w, &n}, func() error {
		out.writers, out.rows = append(out.writers, w), append(out.rows, n)
		return nil
	})
	return out, err
}

// name adds to each error's message the writer of its row and the
// writer's offset of it.
func (ws *writerSpans) name(errs []loader.RowError) {
	for i := range errs {
		row := errs[i].Row
		for j, n := range ws.rows {
			if row < n {
				errs[i].Message += fmt.Sprintf(" (writer %s, offset %d)", strconv.Quote(ws.writers[j]), row)
				break
			}
			row -= n
		}
	}
}

// checkStage refuses to apply a stage that holds fewer rows than its
// writers stored: an UNLOGGED table is emptied by a crash of the database,
// while the writers' offsets, logged, survive it.
func (ls *loadSession) checkStage(ctx context.Context, s *session, rows int64) error {
	var staged int64
	if err := s.conn.QueryRow(ctx, "SELECT count(*) FROM "+ls.stage(), pgx.QueryExecModeSimpleProtocol).Scan(&staged); err != nil {
		return err
	}
	if staged != rows {
		return &loader.SessionError{Kind: loader.SessionLost, ID: ls.id, Rows: rows, Staged: staged}
	}
	return nil
}

// drop removes the session: its stage (gone already once committed), its
// row and, with it, its writers' rows.
func (ls *loadSession) drop(ctx context.Context, s *session) error {
	if _, err := s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+ls.stage()); err != nil {
		return err
	}
	_, err := s.conn.Exec(ctx, "DELETE FROM "+ls.exec.sessionsTable()+" WHERE session_id = $1", pgx.QueryExecModeSimpleProtocol, ls.id)
	return err
}

// stageRows is the COPY data of one append: each row's written columns,
// then its writer and its offset in the writer.
type stageRows struct {
	batch  *loader.Batch
	cols   []int
	writer []byte // the writer as a COPY field, with a newline
	offset int64
	next   int
	buf    []byte
}

func (r *stageRows) Read(p []byte) (int, error) {
	r.fill(len(p))
	if len(r.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.buf)
	r.buf = r.buf[:copy(r.buf, r.buf[n:])]
	return n, nil
}

// fill adds whole rows to buf until it holds n bytes or the rows end.
func (r *stageRows) fill(n int) {
	for len(r.buf) < n && r.next < r.batch.Len() {
		r.buf = loader.AppendCopyRow(r.buf, r.batch.Row(r.next), r.cols)
		r.buf[len(r.buf)-1] = '\t'
		r.buf = append(r.buf, r.writer...)
		r.buf = loader.AppendOrdinal(r.buf, int(r.offset)+r.next)
		r.next++
	}
}

// piece is the next rows' COPY text, whole lines of n bytes or more
// unless the rows end; empty once they have. It is not used with Read.
func (r *stageRows) piece(n int) []byte {
	r.buf = nil // the piece before may still be referenced
	r.fill(n)
	return r.buf
}
