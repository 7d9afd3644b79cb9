package pgexec_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// scaleTable is a 规模明细-shaped table: identity id, a date, a varchar(12)
// code NOT NULL, numeric amounts and a numeric(10,6) rate, a CHECK, an
// integer column.
const scaleTable = `CREATE TABLE "规模明细" (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "月度" date NOT NULL,
  "业务类型" varchar(255),
  "计划代码" varchar(12) NOT NULL,
  "期末资产规模" numeric(18,4),
  "当期收益率" numeric(10,6),
  "供款" numeric(18,4) CHECK ("供款" >= 0),
  "户数" integer)`

// sevenCells are the seven bad cells: row, column, value (nil:
// an empty cell) and PostgreSQL's SQLSTATE for it.
var sevenCells = []struct {
	row      int
	column   string
	value    any
	sqlstate string
}{
	{17, "月度", "2024-13-01", "22008"},
	{250, "期末资产规模", "一百万", "22P02"},
	{511, "当期收益率", "12345.678", "22003"},
	{800, "计划代码", "P0123456789012345678901", "22001"},
	{1203, "计划代码", nil, "23502"},
	{1555, "供款", "-5", "23514"},
	{1999, "户数", "3.5", "22P02"},
}

// scaleRows are n good rows of the table, key tuples ("月度", "业务类型")
// alternating between two business types, with the seven cells spoiled.
func scaleRows(n int) []row {
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{"月度": "2024-11-01", "业务类型": []string{"企年受托", "职年投资"}[i%2], "计划代码": fmt.Sprintf("P%05d", i),
			"期末资产规模": fmt.Sprintf("%d.25", i), "当期收益率": "0.012345", "供款": "10", "户数": fmt.Sprint(i)}
	}
	for _, c := range sevenCells {
		if c.row < n {
			rows[c.row][c.column] = c.value
		}
	}
	return rows
}

// stream is a Source of a batch's rows in parts of size rows, numbered as
// in the whole load, that cannot be read again: as a LoadStream's are.
type stream struct {
	b    *loader.Batch
	size int
	next int
}

func (s *stream) Next(context.Context) (*loader.Batch, error) {
	n := s.b.Len()
	if s.next >= n {
		return nil, io.EOF
	}
	end := min(s.next+s.size, n)
	w := len(s.b.Columns)
	part := &loader.Batch{Columns: s.b.Columns, Values: append([]loader.Field(nil), s.b.Values[s.next*w:end*w]...), Offset: s.next}
	s.next = end
	return part, nil
}

// rowErrors asserts err is a LoadError listing row errors, and returns them.
func rowErrors(t *testing.T, err error) (*loader.LoadError, *loader.RowErrors) {
	t.Helper()
	le := loadError(t, err)
	if le.Rows == nil {
		t.Fatalf("LoadError %q lists no rows", le.Message)
	}
	return le, le.Rows
}

// wantSeven checks that errs name the seven cells, each with its row,
// column (none for the CHECK, a verdict on the row) and SQLSTATE.
func wantSeven(t *testing.T, errs *loader.RowErrors) {
	t.Helper()
	var got, want []string
	for _, e := range errs.Errors {
		got = append(got, fmt.Sprintf("%d %s %s %q", e.Row, e.Column, e.SQLState, e.Value))
		if e.Message == "" {
			t.Errorf("row %d has no message", e.Row)
		}
	}
	for _, c := range sevenCells {
		col, value := c.column, ""
		if c.sqlstate == "23514" {
			col = ""
		} else if c.value != nil {
			value = c.value.(string)
		}
		want = append(want, fmt.Sprintf("%d %s %s %q", c.row, col, c.sqlstate, value))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs.Truncated || errs.Rows != 7 {
		t.Errorf("truncated %v, rows %d; want false, 7", errs.Truncated, errs.Rows)
	}
}

func TestRowErrorsSevenCells(t *testing.T) {
	t.Parallel()
	rows := scaleRows(2000)
	for _, mode := range []loader.Mode{loader.ModeAppend, loader.ModeDeleteInsert, loader.ModeUpsert} {
		for _, streamed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", mode, streamed), func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				b.sql(t, scaleTable)
				cfg := loader.Config{Table: "规模明细", Mode: mode, ChunkSize: 300}
				switch mode {
				case loader.ModeDeleteInsert:
					cfg.Keys = []string{"月度", "业务类型"}
				case loader.ModeUpsert:
					cfg.Keys = []string{"期末资产规模"}
				}
				var src loader.Source = loader.OneBatch(testrows.Batch(t, rows))
				if streamed {
					src = &stream{b: testrows.Batch(t, rows), size: 170}
				}
				_, err := b.exec.Run(ctxT(t), cfg, src)
				le, errs := rowErrors(t, err)
				wantSeven(t, errs)
				if le.SQLState != "22008" || le.Kind != loader.KindInvalidData || le.Column != "月度" {
					t.Errorf("failure %s %v column %q, want the first bad row's: 22008, invalid data, 月度", le.SQLState, le.Kind, le.Column)
				}
				if n := b.count(t, `SELECT count(*) FROM "规模明细"`); n != 0 {
					t.Errorf("%d rows written by a failed load", n)
				}
				b.assertClean(t)
			})
		}
	}
}

func TestRowErrorsReportedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, scaleTable)
	_, err := b.exec.Run(ctxT(t), loader.Config{Table: "规模明细", Mode: loader.ModeAppend}, loader.OneBatch(testrows.Batch(t, scaleRows(2000))))
	le, _ := rowErrors(t, err)
	if le.Message != `date/time field value out of range: "2024-13-01"` {
		t.Errorf("message %q, want PostgreSQL's for the first bad row, as a failed load always said", le.Message)
	}
	// Past a budget, the message says so.
	cfg := loader.Config{Table: "规模明细", Mode: loader.ModeAppend, MaxRejectedRows: 6}
	_, err = b.exec.Run(ctxT(t), cfg, loader.OneBatch(testrows.Batch(t, scaleRows(2000))))
	if le, _ := rowErrors(t, err); !strings.HasSuffix(le.Message, "; 7 bad rows, more than max_rejected_rows=6, so nothing was written") {
		t.Errorf("message %q does not name the budget", le.Message)
	}
}

func TestRejectBudget(t *testing.T) {
	t.Parallel()
	rows := scaleRows(2000)
	for _, budget := range []int64{7, 6} {
		for _, mode := range []loader.Mode{loader.ModeAppend, loader.ModeReplace, loader.ModeDeleteInsert} {
			for _, dry := range []bool{false, true} {
				t.Run(fmt.Sprintf("%d/%s/dry=%v", budget, mode, dry), func(t *testing.T) {
					t.Parallel()
					b := setup(t)
					b.sql(t, scaleTable)
					b.sql(t, `INSERT INTO "规模明细" ("月度", "业务类型", "计划代码") VALUES ('2024-11-01', '企年受托', 'OLD')`)
					cfg := loader.Config{Table: "规模明细", Mode: mode, ChunkSize: 300, MaxRejectedRows: budget, DryRun: dry}
					if mode == loader.ModeDeleteInsert {
						cfg.Keys = []string{"月度", "业务类型"}
					}
					before := dump(t, b.admin, `"规模明细"`)
					res, err := b.exec.Run(ctxT(t), cfg, &stream{b: testrows.Batch(t, rows), size: 170})
					if budget == 6 {
						_, errs := rowErrors(t, err)
						wantSeven(t, errs)
						if got := dump(t, b.admin, `"规模明细"`); got != before {
							t.Errorf("a load past its budget changed the table")
						}
						b.assertClean(t)
						return
					}
					if err != nil {
						t.Fatalf("Run: %v", err)
					}
					wantSeven(t, &loader.RowErrors{Errors: res.Rejected, Rows: res.RejectedRows})
					if res.Inserted != 1993 || res.Rows != 2000 || res.Batches != 7 {
						t.Errorf("inserted %d of %d rows in %d batches, want 1993 of 2000 in 7 (chunks of 300)", res.Inserted, res.Rows, res.Batches)
					}
					want := map[loader.Mode]int64{loader.ModeAppend: 1994, loader.ModeReplace: 1993, loader.ModeDeleteInsert: 1993}[mode]
					if dry {
						want = 1
					}
					if n := b.count(t, `SELECT count(*) FROM "规模明细"`); n != want {
						t.Errorf("table holds %d rows, want %d", n, want)
					}
					if !dry {
						// Exactly the good rows: every code but the bad rows'.
						n := b.count(t, `SELECT count(*) FROM "规模明细" WHERE "计划代码" IN ('P00017', 'P00250', 'P00511', 'P00800', 'P01555', 'P01999') OR "供款" < 0`)
						m := b.count(t, `SELECT count(DISTINCT "计划代码") FROM "规模明细" WHERE "计划代码" LIKE 'P%'`)
						if n != 0 || m != 1993 {
							t.Errorf("%d bad rows and %d distinct good codes in the table, want 0 and 1993", n, m)
						}
					}
					b.assertClean(t)
				})
			}
		}
	}
}

// A delete_insert's refresh scope is the key tuples of the rows it writes:
// a tuple whose every row was rejected keeps its rows.
func TestRejectBudgetRefreshScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, scaleTable)
	b.sql(t, `INSERT INTO "规模明细" ("月度", "业务类型", "计划代码", "供款") VALUES
  ('2024-11-01', 'A', 'OLD-A1', 1), ('2024-11-01', 'A', 'OLD-A2', 1), ('2024-11-01', 'B', 'OLD-B1', 1), ('2024-11-01', 'C', 'OLD-C1', 1)`)
	rows := []row{
		{"月度": "2024-11-01", "业务类型": "A", "计划代码": "NEW-A1", "供款": "5"},
		{"月度": "2024-11-01", "业务类型": "B", "计划代码": "NEW-B1", "供款": "-1"},              // CHECK: rejected
		{"月度": "2024-11-01", "业务类型": "B", "计划代码": "NEW-B2-TOO-LONG-CODE", "供款": "1"}, // too long: rejected
		{"月度": "2024-11-01", "业务类型": "C", "计划代码": "NEW-C1", "供款": "x"},               // not a number: rejected
		{"月度": "2024-11-01", "业务类型": "C", "计划代码": "NEW-C2", "供款": "2"},
	}
	cfg := loader.Config{Table: "规模明细", Mode: loader.ModeDeleteInsert, Keys: []string{"月度", "业务类型"}, MaxRejectedRows: 10}
	res, err := b.exec.Run(ctxT(t), cfg, loader.OneBatch(testrows.Batch(t, rows)))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.RejectedRows != 3 || res.Deleted != 3 || res.Inserted != 2 {
		t.Errorf("rejected %d, deleted %d, inserted %d; want 3, 3 (A's two, C's one), 2", res.RejectedRows, res.Deleted, res.Inserted)
	}
	got := dump(t, b.admin, `(SELECT "业务类型", "计划代码" FROM "规模明细")`)
	want := "(A,NEW-A1)\n(B,OLD-B1)\n(C,NEW-C2)"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	b.assertClean(t)
}

// Unique violations in append: against a row the table holds, and between
// two rows of the load; the later row of two is the one refused.
func TestRowErrorsUnique(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE owners (id int PRIMARY KEY); INSERT INTO owners VALUES (1), (2);
CREATE TABLE plans (code text CONSTRAINT plans_code_key PRIMARY KEY, name text, owner int CONSTRAINT plans_owner_fkey REFERENCES owners (id));
INSERT INTO plans VALUES ('X', 'old', 1)`)
	rows := []row{
		{"code": "A", "name": "a", "owner": 1},
		{"code": "X", "name": "clash with the table", "owner": 1},
		{"code": "B", "name": "b", "owner": 9},
		{"code": "A", "name": "clash with row 0", "owner": 2},
		{"code": "C", "name": "c", "owner": nil},
	}
	for _, streamed := range []bool{false, true} {
		var src loader.Source = loader.OneBatch(testrows.Batch(t, rows))
		if streamed {
			src = &stream{b: testrows.Batch(t, rows), size: 2}
		}
		_, err := b.exec.Run(ctxT(t), loader.Config{Table: "plans", Mode: loader.ModeAppend}, src)
		le, errs := rowErrors(t, err)
		var got []string
		for _, e := range errs.Errors {
			got = append(got, fmt.Sprintf("%d %s %s", e.Row, e.SQLState, e.Constraint))
		}
		want := []string{"1 23505 plans_code_key", "2 23503 plans_owner_fkey", "3 23505 plans_code_key"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stream=%v: row errors %q, want %q", streamed, got, want)
		}
		if le.Kind != loader.KindDuplicateKey || le.Detail != "Key (code)=(X) already exists." {
			t.Errorf("failure kind %v detail %q, want the first bad row's: a duplicate key, its detail", le.Kind, le.Detail)
		}
		if got := dump(t, b.admin, "plans"); got != "(X,old,1)" {
			t.Errorf("table %q after a failed load", got)
		}
	}
	b.assertClean(t)
}

func TestRowErrorsCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, scaleTable)
	for _, budget := range []int64{0, 5} {
		cfg := loader.Config{Table: "规模明细", Mode: loader.ModeAppend, MaxRowErrors: 3, MaxRowErrorsHint: "THE_CAP", MaxRejectedRows: budget}
		_, err := b.exec.Run(ctxT(t), cfg, &stream{b: testrows.Batch(t, scaleRows(2000)), size: 100})
		le, errs := rowErrors(t, err)
		if !strings.Contains(le.Message, "lists the first 3 bad values found (THE_CAP)") {
			t.Errorf("budget %d: the message %q does not name the cap", budget, le.Message)
		}
		var rows []int64
		for _, e := range errs.Errors {
			rows = append(rows, e.Row)
		}
		if !reflect.DeepEqual(rows, []int64{17, 250, 511}) || !errs.Truncated {
			t.Errorf("budget %d: rows %v truncated %v, want the first three and truncated", budget, rows, errs.Truncated)
		}
	}
	// Under the budget, the cap bounds the list but not the count.
	cfg := loader.Config{Table: "规模明细", Mode: loader.ModeAppend, MaxRowErrors: 3, MaxRejectedRows: 7}
	res, err := b.exec.Run(ctxT(t), cfg, loader.OneBatch(testrows.Batch(t, scaleRows(2000))))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.RejectedRows != 7 || len(res.Rejected) != 3 || res.Inserted != 1993 {
		t.Errorf("rejected %d rows, listed %d, inserted %d; want 7, 3, 1993", res.RejectedRows, len(res.Rejected), res.Inserted)
	}
	b.assertClean(t)
}

func TestMissingKeysAllRefused(t *testing.T) {
	t.Parallel()
	rows := scaleRows(50)
	for _, i := range []int{3, 20, 41} {
		rows[i]["业务类型"] = nil
	}
	delete(rows[44], "月度")
	b := setup(t)
	cfg := loader.Config{Table: "规模明细", Keys: []string{"月度", "业务类型"}}
	for _, src := range []loader.Source{loader.OneBatch(testrows.Batch(t, rows)), &stream{b: testrows.Batch(t, rows), size: 10}} {
		_, err := b.exec.Run(ctxT(t), cfg, src)
		var ve *loader.ValidationError
		if !errors.As(err, &ve) || ve.Rows == nil {
			t.Fatalf("Run: %v (%T), want a refusal listing rows", err, err)
		}
		var got []string
		for _, e := range ve.Rows.Errors {
			got = append(got, fmt.Sprintf("%d %s", e.Row, e.Column))
		}
		if want := []string{"3 业务类型", "20 业务类型", "41 业务类型", "44 月度"}; !reflect.DeepEqual(got, want) {
			t.Errorf("refused %q, want %q", got, want)
		}
		if !strings.HasPrefix(ve.Reason, `row 3 has no value for key column "业务类型"`) || !strings.Contains(ve.Reason, "4 rows lack a key value") {
			t.Errorf("reason %q", ve.Reason)
		}
	}
	if n := b.pool.Stat().TotalConns(); n != 0 {
		t.Errorf("%d connections opened for a load refused before any", n)
	}
}

// The rows reported do not depend on the server's language: the same seven
// cells, in German, where PostgreSQL's messages say other words.
func TestRowErrorsTranslated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, scaleTable)
	const german = "de_DE.UTF-8"
	if _, err := b.admin.Exec(context.Background(), "SET lc_messages = '"+german+"'"); err != nil {
		t.Skipf("the machine has no %s locale, so PostgreSQL cannot translate (scripts/ensure-locales.sh installs Debian's locales-all): %v", german, err)
	}
	db, _ := b.text(t, "SELECT current_database()")
	b.sql(t, `ALTER DATABASE `+loader.QuoteIdent(db)+` SET lc_messages = '`+german+`'`)
	for _, mode := range []loader.Mode{loader.ModeAppend, loader.ModeDeleteInsert} {
		cfg := loader.Config{Table: "规模明细", Mode: mode, ChunkSize: 300}
		if mode == loader.ModeDeleteInsert {
			cfg.Keys = []string{"月度", "业务类型"}
		}
		_, err := b.exec.Run(ctxT(t), cfg, &stream{b: testrows.Batch(t, scaleRows(2000)), size: 170})
		le, errs := rowErrors(t, err)
		if !strings.Contains(le.Message, "außerhalb des gültigen Bereichs") {
			t.Fatalf("%s: the message %q is not German: the test would prove nothing", mode, le.Message)
		}
		wantSeven(t, errs)
	}
	b.assertClean(t)
}

// A constraint no query can pin on rows (a unique expression index) fails
// the load as PostgreSQL failed it; the bad rows found besides are listed.
func TestRowErrorsUntraceable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE p (code text, n int); CREATE UNIQUE INDEX p_lower ON p (lower(code))`)
	clash := []row{{"code": "a", "n": 1}, {"code": "A", "n": 2}}
	_, err := b.exec.Run(ctxT(t), loader.Config{Table: "p", Mode: loader.ModeAppend, MaxRejectedRows: 5}, loader.OneBatch(testrows.Batch(t, clash)))
	if pe := pgError(t, err, "23505"); pe.ConstraintName != "p_lower" {
		t.Errorf("constraint %q", pe.ConstraintName)
	}
	if l := loadError(t, err); l.Rows != nil {
		t.Errorf("an untraceable failure lists rows %v", l.Rows.Errors)
	}
	_, err = b.exec.Run(ctxT(t), loader.Config{Table: "p", Mode: loader.ModeAppend, MaxRejectedRows: 5},
		loader.OneBatch(testrows.Batch(t, append(clash, row{"code": "b", "n": "x"}))))
	l, errs := rowErrors(t, err)
	if len(errs.Errors) != 1 || errs.Errors[0].Row != 2 || !errs.Truncated || !strings.Contains(l.Message, "the apply failed on no row in particular") {
		t.Errorf("failure %q lists %+v (truncated %v), want row 2 and the apply's failure", l.Message, errs.Errors, errs.Truncated)
	}
	if n := b.count(t, "SELECT count(*) FROM p"); n != 0 {
		t.Errorf("%d rows written", n)
	}
	b.assertClean(t)
}

// The gap the README names: a stream without a budget that fails on a row
// repeating the unique key of a row of an earlier piece cannot read that
// row again; it fails as PostgreSQL failed it, without rows, and writes
// nothing. With a budget of 1 the same stream names the row.
func TestRowErrorsStreamGap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE g (id int PRIMARY KEY, v text)`)
	rows := make([]row, 1500)
	for i := range rows {
		rows[i] = row{"id": i, "v": "x"}
	}
	rows[1200]["id"] = 7
	cfg := loader.Config{Table: "g", Mode: loader.ModeAppend, ChunkSize: 1000}
	_, err := b.exec.Run(ctxT(t), cfg, &stream{b: testrows.Batch(t, rows), size: 100})
	pgError(t, err, "23505")
	if le := loadError(t, err); le.Rows != nil {
		t.Errorf("the stream's failure lists rows %v, which it cannot know", le.Rows.Errors)
	}
	cfg.MaxRejectedRows = 1
	res, err := b.exec.Run(ctxT(t), cfg, &stream{b: testrows.Batch(t, rows), size: 100})
	if err != nil {
		t.Fatalf("Run with a budget of 1: %v", err)
	}
	if len(res.Rejected) != 1 || res.Rejected[0].Row != 1200 || res.Rejected[0].SQLState != "23505" || res.Inserted != 1499 {
		t.Errorf("rejected %+v, inserted %d; want row 1200 (23505) and 1499 rows", res.Rejected, res.Inserted)
	}
	b.assertClean(t)
}

// A deferred foreign key fails the clean load at COMMIT; the careful run
// checks it at its statement and names the rows.
func TestRowErrorsDeferredConstraint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE o (id int PRIMARY KEY); INSERT INTO o VALUES (1);
CREATE TABLE d (id int PRIMARY KEY, o int CONSTRAINT d_o_fkey REFERENCES o DEFERRABLE INITIALLY DEFERRED)`)
	rows := []row{{"id": 1, "o": 1}, {"id": 2, "o": 5}, {"id": 3, "o": 1}, {"id": 4, "o": 6}}
	for _, dry := range []bool{false, true} {
		_, err := b.exec.Run(ctxT(t), loader.Config{Table: "d", Mode: loader.ModeAppend, DryRun: dry}, loader.OneBatch(testrows.Batch(t, rows)))
		_, errs := rowErrors(t, err)
		var got []string
		for _, e := range errs.Errors {
			got = append(got, fmt.Sprintf("%d %s %s", e.Row, e.SQLState, e.Constraint))
		}
		if want := []string{"1 23503 d_o_fkey", "3 23503 d_o_fkey"}; !reflect.DeepEqual(got, want) {
			t.Errorf("dry=%v: row errors %q, want %q", dry, got, want)
		}
	}
	if n := b.count(t, "SELECT count(*) FROM d"); n != 0 {
		t.Errorf("%d rows written", n)
	}
	b.assertClean(t)
}

// A stamped append (the load id a last COPY field) that fails is searched
// without the stamps, which its stage has no column for, and a budgeted
// one stamps exactly its good rows.
func TestRowErrorsStamped(t *testing.T) {
	t.Parallel()
	rows := scaleRows(2000)
	for _, budget := range []int64{0, 7} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sql(t, scaleTable+`; ALTER TABLE "规模明细" ADD COLUMN load_id uuid`)
			cfg := loader.Config{Table: "规模明细", Mode: loader.ModeAppend, ChunkSize: 300, MaxRejectedRows: budget, StampColumn: "load_id"}
			res, err := b.exec.Run(ctxT(t), cfg, &stream{b: testrows.Batch(t, rows), size: 170})
			if budget == 0 {
				_, errs := rowErrors(t, err)
				wantSeven(t, errs)
				if n := b.count(t, `SELECT count(*) FROM "规模明细"`); n != 0 {
					t.Errorf("a failed load left %d rows", n)
				}
				b.assertClean(t)
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if n := b.count(t, `SELECT count(*) FROM "规模明细" WHERE load_id = $1`, res.LoadID); n != 1993 || res.LoadID == "" {
				t.Errorf("%d rows stamped with the load id %q, want 1993", n, res.LoadID)
			}
			b.assertClean(t)
		})
	}
}

// A keyed stream whose values all parse but whose apply breaks constraints
// names every row that breaks them, counted across its messages: the
// stage is kept at a savepoint before the apply and traced (retrace),
// whether or not the load numbers its staged rows.
func TestRowErrorsStreamApply(t *testing.T) {
	t.Parallel()
	rows := make([]row, 1500)
	for i := range rows {
		rows[i] = row{"k": i % 10, "id": i, "v": "x", "n": 1}
	}
	rows[150]["v"] = nil // NOT NULL
	rows[700]["n"] = -1  // CHECK
	rows[1400]["v"] = nil
	for _, dups := range []loader.Duplicates{loader.DuplicatesKeepAll, loader.DuplicatesRefuse} {
		t.Run(fmt.Sprint(dups), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sql(t, `CREATE TABLE a (k int NOT NULL, id int NOT NULL, v text NOT NULL, n int CHECK (n >= 0)); INSERT INTO a VALUES (1, -1, 'old', 0)`)
			cfg := loader.Config{Table: "a", Mode: loader.ModeDeleteInsert, Keys: []string{"k"}, ChunkSize: 400, Duplicates: dups}
			if dups == loader.DuplicatesRefuse {
				cfg.Keys = []string{"id"}
			}
			_, err := b.exec.Run(ctxT(t), cfg, &stream{b: testrows.Batch(t, rows), size: 100})
			_, errs := rowErrors(t, err)
			var got []string
			for _, e := range errs.Errors {
				got = append(got, fmt.Sprintf("%d %s %s", e.Row, e.Column, e.SQLState))
			}
			if want := []string{"150 v 23502", "700  23514", "1400 v 23502"}; !reflect.DeepEqual(got, want) {
				t.Errorf("row errors %q, want %q", got, want)
			}
			if got := dump(t, b.admin, "a"); got != "(1,-1,old,0)" {
				t.Errorf("a holds %q after a failed load", got)
			}
			b.assertClean(t)
		})
	}
}
