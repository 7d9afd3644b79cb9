package pgexec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// The fuzz targets share one database each (created once per target, not per
// input), an executor pool and an admin pool on it. Their seeds run as
// ordinary tests under `go test`; `make fuzz` and `make fuzz-smoke` fuzz them.

// fuzzSeeds are inputs both targets start from; the committed corpora under
// testdata/fuzz hold more.
var fuzzSeeds = []string{
	"",
	"t",
	"T",
	"id",
	"v",
	`q"t`,
	`""`,
	`"`,
	"'",
	"it's",
	`back\slash`,
	`\`,
	`\N`,
	`\.`,
	"\\.\n",
	"tab\there",
	"nl\nx",
	"cr\rx",
	"crlf\r\n",
	"emoji 😀",
	"中文",
	"年金计划",
	"nul\x00byte",
	"\x00",
	"bad utf8 \xff\xfe",
	"\xc3\x28",
	"a.b",
	"s p",
	" lead and trail ",
	"xmin",
	"ctid",
	"canary",
	`t"; DROP TABLE x; --`,
	`canary"; DROP TABLE canary; --`,
	strings.Repeat("a", 63),
	strings.Repeat("a", 64),
	strings.Repeat("年", 21),       // 63 bytes
	strings.Repeat("年", 21) + "a", // 64 bytes
	"\x01\x1f\x7f",
}

// fuzzDB is one fuzz target's database.
type fuzzDB struct {
	pool  *pgxpool.Pool
	admin *pgxpool.Pool
	exec  *pgexec.Executor
	next  atomic.Int64
}

func newFuzzDB(f *testing.F) *fuzzDB {
	f.Helper()
	url := cluster.NewDatabase(f)
	d := &fuzzDB{pool: fuzzPool(f, url, 2), admin: fuzzPool(f, url, 2)}
	d.exec = &pgexec.Executor{Pool: d.pool, AcquireTimeout: 5 * time.Second, StatementTimeout: 20 * time.Second}
	return d
}

func fuzzPool(tb testing.TB, url string, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pgexec.ConfigurePool(cfg, 3*time.Second)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func (d *fuzzDB) sql(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := d.admin.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// checkCanary fails unless public.canary still holds its one row.
func (d *fuzzDB) checkCanary(t *testing.T) {
	t.Helper()
	var n int64
	if err := d.admin.QueryRow(context.Background(), `SELECT count(*) FROM public.canary`).Scan(&n); err != nil {
		t.Fatalf("canary table gone: %v", err)
	}
	if n != 1 {
		t.Fatalf("canary table holds %d rows, want 1", n)
	}
}

// systemColumns are PostgreSQL's system column names, which no user column
// may take.
var systemColumns = map[string]bool{"tableoid": true, "cmax": true, "xmax": true, "cmin": true, "xmin": true, "ctid": true}

// FuzzIdentifier checks that any name CheckIdent accepts works, byte for
// byte, as a table and a column name through the planner and the executor,
// and that every other name is refused by the planner.
func FuzzIdentifier(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	d := newFuzzDB(f)
	d.sql(f, `CREATE TABLE public.canary (id int PRIMARY KEY); INSERT INTO public.canary VALUES (1)`)
	pid := os.Getpid()

	f.Fuzz(func(t *testing.T, name string) {
		if err := loader.CheckIdent(name); err != nil {
			refused(t, "table", "config.table", func() error {
				_, err := loader.NewPlan(loader.Config{Table: name, Mode: loader.ModeAppend}, nil)
				return err
			})
			if name != "" { // an empty schema means the search_path
				refused(t, "schema", "config.schema", func() error {
					_, err := loader.NewPlan(loader.Config{Schema: name, Table: "t", Mode: loader.ModeAppend}, nil)
					return err
				})
			}
			refused(t, "column", "rows[0]."+name, func() error {
				_, err := testrows.Columns([]*structpb.Struct{{Fields: map[string]*structpb.Value{name: structpb.NewStringValue("x")}}})
				return err
			})
			d.checkCanary(t)
			return
		}

		col := name
		if systemColumns[name] {
			col = "v" // PostgreSQL reserves these column names
		}
		schema := fmt.Sprintf("fz_%d_%d", pid, d.next.Add(1))
		qs, qt, qc := loader.QuoteIdent(schema), loader.QuoteIdent(name), loader.QuoteIdent(col)
		d.sql(t, "CREATE SCHEMA "+qs+"; CREATE TABLE "+qs+"."+qt+" ("+qc+" text)")
		defer d.sql(t, "DROP SCHEMA "+qs+" CASCADE")

		// The catalog holds exactly the name, byte for byte.
		rows, err := d.admin.Query(context.Background(), `
SELECT convert_to(c.relname::text, 'UTF8'), convert_to(a.attname::text, 'UTF8')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = $1`, schema)
		if err != nil {
			t.Fatal(err)
		}
		var got [][2][]byte
		for rows.Next() {
			var r [2][]byte
			if err := rows.Scan(&r[0], &r[1]); err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !bytes.Equal(got[0][0], []byte(name)) || !bytes.Equal(got[0][1], []byte(col)) {
			t.Fatalf("catalog of schema %s holds %q, want one table %q with one column %q", schema, got, name, col)
		}

		// One row through the planner and the executor.
		value := "value of " + name
		ss := []*structpb.Struct{{Fields: map[string]*structpb.Value{col: structpb.NewStringValue(value)}}}
		cols, err := testrows.Columns(ss)
		if err != nil {
			t.Fatalf("StructColumns(%q): %v", col, err)
		}
		batch, err := testrows.FromStructs(cols, ss, 0)
		if err != nil {
			t.Fatalf("FromStructs: %v", err)
		}
		plan, err := loader.NewPlan(loader.Config{Schema: schema, Table: name, Mode: loader.ModeAppend}, batch)
		if err != nil {
			t.Fatalf("NewPlan(table %q): %v", name, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := d.exec.Run(ctx, plan.Config, loader.OneBatch(plan.Batch))
		if err != nil {
			t.Fatalf("Run(table %q, column %q): %v", name, col, err)
		}
		if res.Inserted != 1 {
			t.Errorf("Inserted = %d, want 1", res.Inserted)
		}
		var back []string
		r2, err := d.admin.Query(ctx, "SELECT "+qc+" FROM "+qs+"."+qt)
		if err != nil {
			t.Fatal(err)
		}
		for r2.Next() {
			var s string
			if err := r2.Scan(&s); err != nil {
				t.Fatal(err)
			}
			back = append(back, s)
		}
		if err := r2.Err(); err != nil {
			t.Fatal(err)
		}
		if len(back) != 1 || back[0] != value {
			t.Fatalf("table %q holds %q, want [%q]", name, back, value)
		}
		d.checkCanary(t)
	})
}

// refused checks that fn fails with a *loader.ValidationError for field.
func refused(t *testing.T, what, field string, fn func() error) {
	t.Helper()
	err := fn()
	var ve *loader.ValidationError
	switch {
	case err == nil:
		t.Fatalf("%s name refused by CheckIdent was accepted", what)
	case !errors.As(err, &ve):
		t.Fatalf("%s name: error %T (%v), want *loader.ValidationError", what, err, err)
	case ve.Field != field:
		t.Fatalf("%s name: ValidationError.Field = %q, want %q (%v)", what, ve.Field, field, err)
	case ve.Reason == "":
		t.Fatalf("%s name: ValidationError without a reason", what)
	}
}

// FuzzValue checks that any text goes through COPY into a text column and
// comes back byte for byte, that text with a NUL byte is refused naming its
// row and column, and that text which is not UTF-8 fails the load with
// PostgreSQL's encoding error instead of being altered.
func FuzzValue(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	d := newFuzzDB(f)
	d.sql(f, `CREATE TABLE fv (id bigint PRIMARY KEY, v text)`)

	f.Fuzz(func(t *testing.T, s string) {
		nul := strings.IndexByte(s, 0)

		// Text and the JSON path agree.
		field, err := loader.Text(s)
		if (err != nil) != (nul >= 0) {
			t.Fatalf("Text(%q): error %v, NUL at %d", s, err, nul)
		}
		jf, jerr := testrows.Value(structpb.NewStringValue(s))
		if (jerr != nil) != (nul >= 0) {
			t.Fatalf("EncodeValue(%q): error %v, NUL at %d", s, jerr, nul)
		}
		if err == nil && (field != loader.Field{Text: s} || jf != field) {
			t.Fatalf("Text(%q) = %+v, EncodeValue = %+v, want both {Text: %q}", s, field, jf, s)
		}

		id := d.next.Add(1)
		ss := []*structpb.Struct{
			{Fields: map[string]*structpb.Value{"id": structpb.NewNumberValue(float64(id)), "v": structpb.NewStringValue("before")}},
			{Fields: map[string]*structpb.Value{"id": structpb.NewNumberValue(float64(id + 1)), "v": structpb.NewStringValue(s)}},
		}
		d.next.Add(1)
		cols, err := testrows.Columns(ss)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := testrows.FromStructs(cols, ss, 5)
		if nul >= 0 {
			// Refused before any connection, naming row and column.
			var ve *loader.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("FromStructs of text with NUL: error %T (%v), want *loader.ValidationError", err, err)
			}
			if ve.Row != 6 || ve.Field != "rows[6].v" {
				t.Fatalf("NUL refused as Row %d Field %q, want 6, rows[6].v", ve.Row, ve.Field)
			}
			if msg := ve.Error(); !strings.Contains(msg, "row 6") || !strings.Contains(msg, `"v"`) || !strings.Contains(msg, "NUL") {
				t.Fatalf("NUL refusal %q does not name row 6, column \"v\" and the NUL byte", msg)
			}
			return
		}
		if err != nil {
			t.Fatalf("FromStructs(%q): %v", s, err)
		}
		plan, err := loader.NewPlan(loader.Config{Table: "fv", Mode: loader.ModeAppend}, batch)
		if err != nil {
			t.Fatalf("NewPlan: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := d.exec.Run(ctx, plan.Config, loader.OneBatch(plan.Batch))
		var n int64
		if qerr := d.admin.QueryRow(ctx, `SELECT count(*) FROM fv WHERE id IN ($1, $2)`, id, id+1).Scan(&n); qerr != nil {
			t.Fatal(qerr)
		}
		if !utf8.ValidString(s) {
			var pe *pgconn.PgError
			if err == nil {
				t.Fatalf("load of invalid UTF-8 %q succeeded, want SQLSTATE 22021", s)
			}
			if !errors.As(err, &pe) || pe.Code != "22021" {
				t.Fatalf("load of invalid UTF-8 %q: %T %v, want a PostgreSQL error with SQLSTATE 22021", s, err, err)
			}
			if n != 0 {
				t.Fatalf("failed load left %d rows behind", n)
			}
			return
		}
		if err != nil {
			t.Fatalf("Run(%q): %v", s, err)
		}
		if res.Inserted != 2 || n != 2 {
			t.Fatalf("Inserted = %d, rows = %d, want 2", res.Inserted, n)
		}
		var got string
		var raw []byte
		if err := d.admin.QueryRow(ctx, `SELECT v, convert_to(v, 'UTF8') FROM fv WHERE id = $1`, id+1).Scan(&got, &raw); err != nil {
			t.Fatal(err)
		}
		if got != s || !bytes.Equal(raw, []byte(s)) {
			t.Fatalf("read back %s (bytes %x), want %s", strconv.Quote(got), raw, strconv.Quote(s))
		}
	})
}
