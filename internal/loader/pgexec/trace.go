package pgexec

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// trace finds the staged rows that break the constraint pg names, in the
// state just before the write that failed: the catalog says what the
// constraint is (by its name and SQLSTATE, never by the message's text,
// which lc_messages translates), and a query PostgreSQL evaluates lists
// the rows. PostgreSQL's message applies to each of them as it is. No rows
// means the failure is not to be pinned on rows: a constraint of another
// table, one on columns the load does not write, an expression index.
// Everything runs under a savepoint, so that a query PostgreSQL refuses
// leaves the transaction alive.
func (s *session) trace(ctx context.Context, r *loadRun, sh loader.Shape, pg *pgconn.PgError) ([]verdict, error) {
	if err := s.exec1(ctx, "SAVEPOINT loadsvc_trace"); err != nil {
		return nil, err
	}
	rows, err := s.traceRows(ctx, r, sh, pg)
	end := "RELEASE SAVEPOINT loadsvc_trace"
	if err != nil {
		end = "ROLLBACK TO SAVEPOINT loadsvc_trace; " + end
	}
	if eerr := s.exec1(ctx, end); eerr != nil {
		return nil, eerr
	}
	if err != nil {
		if _, ok := asPgError(err); ok && !connFailure(err) && ctx.Err() == nil {
			return nil, nil // a query PostgreSQL refuses: not traceable
		}
		return nil, err
	}
	column := ""
	if pg.Code == "23502" {
		column = pg.ColumnName
	}
	out := make([]verdict, len(rows))
	for i, row := range rows {
		out[i] = verdict{RowError: loader.RowError{Row: row, Column: column, SQLState: pg.Code, Message: pg.Message, Constraint: pg.ConstraintName}, pg: pg, traced: true}
	}
	return out, nil
}

// errUntraceable ends a trace that has nothing to query.
var errUntraceable = errors.New("not traceable")

func (s *session) traceRows(ctx context.Context, r *loadRun, sh loader.Shape, pg *pgconn.PgError) ([]int64, error) {
	v, err := s.violation(ctx, r.cfg, pg)
	if errors.Is(err, errUntraceable) || errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, c := range append([]string{v.Column}, v.Columns...) {
		if c != "" && !slices.Contains(r.write, c) {
			return nil, nil // a column the load leaves to its default
		}
	}
	limit := r.cfg.RowErrorCap()
	if b := r.cfg.MaxRejectedRows; b > int64(limit) {
		limit = int(b) // at most loader.MaxRejectedRows (Config.Check)
	}
	sql := loader.TraceSQL(r.cfg, sh, v, limit)
	if sql == "" {
		return nil, nil
	}
	qctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.conn.Query(qctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// violation reads what the catalog says of the constraint pg names on the
// load's target.
func (s *session) violation(ctx context.Context, cfg *loader.Config, pg *pgconn.PgError) (loader.Violation, error) {
	v := loader.Violation{SQLState: pg.Code}
	reg := loader.QuoteLiteral(cfg.Target()) + "::regclass"
	name := loader.QuoteLiteral(pg.ConstraintName)
	qctx, cancel := s.bound(ctx)
	defer cancel()
	q := func(sql string, dst ...any) error {
		return s.conn.QueryRow(qctx, sql, pgx.QueryExecModeSimpleProtocol).Scan(dst...)
	}
	switch {
	case pg.Code == "23502" && pg.ColumnName != "" && pg.TableName == cfg.Table:
		v.Column = pg.ColumnName
		return v, nil
	case pg.ConstraintName == "":
		return v, errUntraceable
	case pg.Code == "23514":
		return v, q(`SELECT pg_get_expr(conbin, conrelid) FROM pg_constraint WHERE conrelid = `+reg+` AND conname = `+name+` AND contype = 'c'`, &v.Check)
	case pg.Code == "23505":
		return v, q(`SELECT array_agg(a.attname::text ORDER BY k.n)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = `+reg+` AND c.relname = `+name+` AND k.n <= i.indnkeyatts
  AND i.indexprs IS NULL AND i.indpred IS NULL AND k.attnum > 0
HAVING count(*) > 0`, &v.Columns)
	case pg.Code == "23503":
		return v, q(`SELECT c.confrelid::regclass::text,
  ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n),
  ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n)
FROM pg_constraint c WHERE c.conrelid = `+reg+` AND c.conname = `+name+` AND c.contype = 'f'`, &v.Ref, &v.Columns, &v.RefColumns)
	}
	return v, errUntraceable
}
