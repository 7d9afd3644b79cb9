package pgexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// history is the load history (loader.History) on one connection: a
// committed load's record goes in with the load's own transaction, a
// failed load's after its rollback, in a transaction of its own. Migrate
// creates the table (version 2).
type history struct {
	conn  *pgx.Conn
	names loader.History
}

// historyColumns are the columns a record is written to and read from,
// in Record's order.
const historyColumns = `load_id, status, principal, peer, schema, "table", mode, request_id, labels, rows, inserted, updated, deleted, skipped, rejected, started_at, finished_at, code, sqlstate, message`

// write inserts rec. Its schema is the one the table resolved to, when it
// exists, so that a load into the search_path is listed under its schema.
func (h *history) write(ctx context.Context, rec *loader.Record, target string) error {
	labels, err := json.Marshal(rec.Labels)
	if err != nil {
		return err
	}
	if rec.Labels == nil {
		labels = []byte("{}")
	}
	_, err = h.conn.Exec(ctx, "INSERT INTO "+h.names.Target()+" ("+historyColumns+`, duration)
VALUES ($1, $2, $3, $4, coalesce((SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($21)), $5),
  $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $17::timestamptz - $16::timestamptz)`,
		pgx.QueryExecModeSimpleProtocol,
		rec.LoadID, rec.Status, rec.Principal, rec.Peer, rec.Schema, rec.Table, rec.Mode, rec.RequestID, string(labels),
		rec.Rows, rec.Inserted, rec.Updated, rec.Deleted, rec.Skipped, rec.Rejected, rec.StartedAt, rec.FinishedAt,
		rec.Code, rec.SQLState, rec.Message, target)
	return err
}

// record is the history record of a load of cfg that started at started
// and ended with res and err (nil: committed).
func (e *Executor) record(cfg *loader.Config, res *loader.Result, started time.Time, err error) *loader.Record {
	rec := &loader.Record{
		LoadID: cfg.LoadID, Status: loader.StatusCommitted, Principal: cfg.Principal, Peer: cfg.Peer,
		Schema: cfg.Schema, Table: cfg.Table, Mode: cfg.Mode.String(), RequestID: cfg.RequestID, Labels: cfg.Labels,
		Rows: res.Rows, StartedAt: started, FinishedAt: time.Now(), Code: "OK",
	}
	if err == nil {
		rec.Inserted, rec.Updated, rec.Deleted, rec.Skipped = res.Inserted, res.Updated, res.Deleted, res.Skipped
		return rec
	}
	// A failed load wrote nothing: its counts stay 0; its message says
	// what it would have done where that is why it failed.
	rec.Status = loader.StatusFailed
	rec.Code, rec.Message = e.status(err)
	rec.Message = loader.Cut(rec.Message, loader.MaxRecordedMessage)
	if le := (*loader.LoadError)(nil); errors.As(err, &le) {
		rec.SQLState = le.SQLState
	}
	return rec
}

// status is the code name and message a failure is answered with
// (Executor.Status), or UNKNOWN and its text.
func (e *Executor) status(err error) (code, message string) {
	if e.Status != nil {
		return e.Status(err)
	}
	return "UNKNOWN", err.Error()
}

// commitRecord writes the record of a load about to commit, in its
// transaction: the load commits with its record or not at all.
func (s *session) commitRecord(ctx context.Context, cfg *loader.Config, res *loader.Result, started time.Time) error {
	h := &history{conn: s.conn, names: loader.HistoryOf(s.exec.Ledger)}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return h.write(ctx, s.exec.record(cfg, res, started, nil), cfg.Target())
}

// failureTimeout bounds the writing of a failed load's record.
const failureTimeout = 5 * time.Second

// failed classifies a failure of the session's load, after its rollback,
// and tells fn (when set) of it.
func (s *session) failed(ctx context.Context, err error, fn func(*session, error)) error {
	err = s.loadError(ctx, err)
	if fn != nil {
		fn(s, err)
	}
	return err
}

// recordFailure writes a failed load's record after its rollback, in a
// transaction of its own: on the load's session when it lives, else on
// another pooled connection. It is best effort: when it cannot, res.Unrecorded
// says why, and the caller's log line is the record.
func (s *session) recordFailure(cfg *loader.Config, res *loader.Result, started time.Time, err error) {
	if cfg.DryRun {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), failureTimeout)
	defer cancel()
	conn := s.conn
	if conn.IsClosed() || conn.PgConn().TxStatus() != 'I' {
		pc, aerr := s.exec.Pool.Acquire(ctx)
		if aerr != nil {
			res.Unrecorded = aerr.Error()
			return
		}
		defer pc.Release()
		conn = pc.Conn()
	}
	h := &history{conn: conn, names: loader.HistoryOf(s.exec.Ledger)}
	if werr := h.write(ctx, s.exec.record(cfg, res, started, err), cfg.Target()); werr != nil {
		res.Unrecorded = werr.Error()
	}
}

// ListLoads returns the recorded loads q selects, newest first, at most
// q.Limit of them. A connection that cannot be had is a
// loader.ConnectError; a failed query a loader.LoadError.
func (e *Executor) ListLoads(ctx context.Context, q loader.HistoryQuery) ([]loader.Record, error) {
	if e.Pool == nil {
		return nil, &loader.ConnectError{Err: loader.ErrNoDatabase}
	}
	conn, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	out, err := e.listLoads(ctx, conn.Conn(), q)
	if err != nil {
		return nil, classify(ctx, err, conn.Conn().IsClosed() || connFailure(err))
	}
	return out, nil
}

// listLoads runs ListLoads on conn, its errors the driver's.
func (e *Executor) listLoads(ctx context.Context, conn *pgx.Conn, q loader.HistoryQuery) ([]loader.Record, error) {
	if err := e.migrate(ctx, conn); err != nil {
		return nil, err
	}
	sql, args := listSQL(loader.HistoryOf(e.Ledger), q)
	rows, err := conn.Query(ctx, sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanRecord)
}

// listSQL is the query of q: its filters, then the keyset condition that
// continues after q.After, newest first by (started_at, load_id), which the
// history's indexes serve.
func listSQL(h loader.History, q loader.HistoryQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if q.Schema != "" {
		add("schema = $?", q.Schema)
	}
	if q.Table != "" {
		add(`"table" = $?`, q.Table)
	}
	if q.Status != "" {
		add("status = $?", q.Status)
	}
	if !q.Since.IsZero() {
		add("started_at >= $?", q.Since)
	}
	if !q.Until.IsZero() {
		add("started_at < $?", q.Until)
	}
	if k := q.After; k != nil {
		args = append(args, k.StartedAt, k.LoadID)
		where = append(where, fmt.Sprintf("(started_at, load_id) < ($%d::timestamptz, $%d::uuid)", len(args)-1, len(args)))
	}
	sql := "SELECT " + strings.ReplaceAll(historyColumns, "load_id,", "load_id::text,") + " FROM " + h.Target()
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	return sql + " ORDER BY started_at DESC, load_id DESC LIMIT " + strconv.Itoa(q.Limit), args
}

// scanRecord reads one row of listSQL.
func scanRecord(row pgx.CollectableRow) (loader.Record, error) {
	var r loader.Record
	var labels []byte
	err := row.Scan(&r.LoadID, &r.Status, &r.Principal, &r.Peer, &r.Schema, &r.Table, &r.Mode, &r.RequestID, &labels,
		&r.Rows, &r.Inserted, &r.Updated, &r.Deleted, &r.Skipped, &r.Rejected, &r.StartedAt, &r.FinishedAt,
		&r.Code, &r.SQLState, &r.Message)
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(labels, &r.Labels)
}

// historyDDL is version 2: the load history, with the indexes of
// ListLoads' newest-first pages, of one table or of all, and of pruning.
func historyDDL(e *Executor) []string {
	h := loader.HistoryOf(e.Ledger)
	return []string{"CREATE TABLE " + h.Target() + ` (
  load_id     uuid PRIMARY KEY,
  status      text NOT NULL CHECK (status IN ('committed', 'failed')),
  principal   text NOT NULL,
  peer        text NOT NULL,
  schema      text NOT NULL,
  "table"     text NOT NULL,
  mode        text NOT NULL,
  request_id  text NOT NULL,
  labels      jsonb NOT NULL,
  rows        bigint NOT NULL,
  inserted    bigint NOT NULL,
  updated     bigint NOT NULL,
  deleted     bigint NOT NULL,
  skipped     bigint NOT NULL,
  rejected    bigint NOT NULL,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  duration    interval NOT NULL,
  code        text NOT NULL,
  sqlstate    text NOT NULL,
  message     text NOT NULL)`,
		"CREATE INDEX load_history_table_started ON " + h.Target() + ` (schema, "table", started_at DESC, load_id DESC)`,
		"CREATE INDEX load_history_started ON " + h.Target() + " (started_at DESC, load_id DESC)",
	}
}
