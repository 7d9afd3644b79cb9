package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/pgcluster"
)

const databaseName = "loadbench"

// database is the benchmark's own connection, for everything around the
// timed figures: creating and filling the table, checkpoints, checks.
type database struct {
	conn *pgx.Conn
	url  string
}

// openDatabase creates the benchmark database on the cluster, tunes the
// cluster for bulk loads and connects.
func openDatabase(ctx context.Context, c *pgcluster.Cluster) (*database, error) {
	admin, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.Background())
	// A checkpoint every ~0.5 GB of WAL (the default max_wal_size of 1GB)
	// would land inside the figures at random; each figure starts after an
	// explicit CHECKPOINT instead.
	for _, sql := range []string{
		"CREATE DATABASE " + databaseName,
		"ALTER SYSTEM SET max_wal_size = '16GB'",
		"ALTER SYSTEM SET checkpoint_timeout = '1h'",
		"SELECT pg_reload_conf()",
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("%s: %w", sql, err)
		}
	}
	d := &database{url: c.URL(databaseName)}
	if d.conn, err = pgx.Connect(ctx, d.url); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *database) close() { d.conn.Close(context.Background()) }

// prepare makes a fresh table holding the stale variant of rows [0, stale),
// vacuumed and analyzed, and checkpoints, so that a figure starts from the
// same state whichever figure ran before.
func (d *database) prepare(ctx context.Context, stale int) error {
	if err := d.execAll(ctx, "DROP TABLE IF EXISTS "+tableName, createTableSQL); err != nil {
		return err
	}
	if stale > 0 {
		copySQL := "COPY " + tableName + " (" + strings.Join(columns, ", ") + ") FROM STDIN WITH (FORMAT csv)"
		tag, err := d.conn.PgConn().CopyFrom(ctx, navCSV(0, stale, true), copySQL)
		if err != nil {
			return fmt.Errorf("fill %s with %d rows: %w", tableName, stale, err)
		}
		if tag.RowsAffected() != int64(stale) {
			return fmt.Errorf("fill %s: COPY wrote %d rows, not %d", tableName, tag.RowsAffected(), stale)
		}
	}
	// The key is built after the fill, as a bulk index build, for speed; an
	// empty table gets it before any row.
	return d.execAll(ctx, addKeySQL, "VACUUM (ANALYZE) "+tableName, "CHECKPOINT")
}

// execAll runs each statement in turn, stopping at the first error.
func (d *database) execAll(ctx context.Context, sqls ...string) error {
	for _, sql := range sqls {
		if _, err := d.conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", firstLine(sql), err)
		}
	}
	return nil
}

// fingerprint is what a check reads back from the table.
type fingerprint struct {
	count, stale                int64
	returnRate, nav, scaleTotal string
	hash                        string // sum of a hash of each row's text columns
}

func (d *database) fingerprint(ctx context.Context) (*fingerprint, error) {
	var f fingerprint
	err := d.conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE data_source = '`+staleSource+`'),
		coalesce(sum(return_rate), 0)::text, coalesce(sum(nav), 0)::text, coalesce(sum(scale), 0)::text,
		coalesce(sum(hashtext(concat_ws(',', report_date, plan_code, company_code, data_source))::bigint), 0)::text
		FROM `+tableName).Scan(&f.count, &f.stale, &f.returnRate, &f.nav, &f.scaleTotal, &f.hash)
	if err != nil {
		return nil, fmt.Errorf("read back %s: %w", tableName, err)
	}
	return &f, nil
}

// check compares the table with want, the sums of the rows it must hold,
// and, when wantHash is set, with the row hash a correct load gave.
func (d *database) check(ctx context.Context, want *sums, wantHash string) (*fingerprint, error) {
	got, err := d.fingerprint(ctx)
	if err != nil {
		return nil, err
	}
	var bad []string
	cmp := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			bad = append(bad, fmt.Sprintf("%s is %v, want %v", what, got, want))
		}
	}
	cmp("count(*)", got.count, want.count)
	cmp("stale rows", got.stale, want.stale)
	cmp("sum(return_rate)", got.returnRate, bigScaled(&want.returnRate, 6))
	cmp("sum(nav)", got.nav, bigScaled(&want.nav, 4))
	cmp("sum(scale)", got.scaleTotal, bigScaled(&want.scaleTotal, 2))
	if wantHash != "" {
		cmp("the row hash", got.hash, wantHash)
	}
	if len(bad) > 0 {
		return got, fmt.Errorf("%s does not hold the rows it should: %s", tableName, strings.Join(bad, "; "))
	}
	return got, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
