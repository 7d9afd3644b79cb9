package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// scaleTable is shaped like the pipeline's main table (CONTRACT.md § Refresh
// keys): Chinese names, an identity id, DECIMAL amounts and rates, default
// timestamps with a BEFORE UPDATE trigger, an index but no unique constraint
// on the refresh key, and a unique business key.
const scaleTable = `
CREATE SCHEMA business;
CREATE TABLE business."规模明细" (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "月度" date NOT NULL,
  "业务类型" varchar(255),
  "计划类型" varchar(255),
  "计划代码" varchar(255) NOT NULL,
  "计划名称" varchar(255),
  "组合代码" varchar(255),
  "客户名称" varchar(255),
  company_id varchar(50) NOT NULL,
  "期初资产规模" DECIMAL(18,4),
  "期末资产规模" DECIMAL(18,4),
  "供款" DECIMAL(18,4),
  "流失" DECIMAL(18,4),
  "待遇支付" DECIMAL(18,4),
  "投资收益" DECIMAL(18,4),
  "流失_含待遇支付" DECIMAL(18,4),
  "当期收益率" DECIMAL(10,6),
  "年化收益率" DECIMAL(10,6),
  created_at timestamptz DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX ON business."规模明细" ("月度", "业务类型", "计划类型");
CREATE UNIQUE INDEX ON business."规模明细" ("月度", "计划代码", "组合代码");
CREATE FUNCTION business.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at = clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON business."规模明细" FOR EACH ROW EXECUTE FUNCTION business.touch();`

var (
	refreshKey    = []string{"月度", "业务类型", "计划类型"}
	businessTypes = []string{"企年受托", "企年投资", "职年受托", "职年投资"}
	planTypes     = []string{"单一计划", "集合计划"}
	scaleColumns  = []string{"月度", "业务类型", "计划类型", "计划代码", "计划名称", "组合代码", "客户名称", "company_id",
		"期初资产规模", "期末资产规模", "供款", "流失", "待遇支付", "投资收益", "流失_含待遇支付", "当期收益率", "年化收益率"}
)

// scaleRow is one row of the table as the pipeline sends it: amounts as
// JSON numbers and as decimal text, a customer name missing from every
// third row. version tells one load's rows from another's.
func scaleRow(month, business, plan string, i, version int) map[string]any {
	r := map[string]any{
		"月度": month, "业务类型": business, "计划类型": plan,
		"计划代码":       fmt.Sprintf("P%s%d", plan[:3], i),
		"计划名称":       fmt.Sprintf("%s%s计划%d", business, plan, i),
		"组合代码":       fmt.Sprintf("%s-%d", business, i),
		"company_id": fmt.Sprintf("C%04d", i),
		"期初资产规模":     1000 + float64(i)*0.25 + float64(version),
		"期末资产规模":     fmt.Sprintf("%d.1234", 2000+i+version),
		"供款":         float64(i) * 10.5,
		"流失":         float64(-i) * 0.75,
		"待遇支付":       "0.0001",
		"投资收益":       "123456789012.3456",
		"流失_含待遇支付":   nil,
		"当期收益率":      "0.012345",
		"年化收益率":      -0.5,
	}
	if i%3 != 0 {
		r["客户名称"] = fmt.Sprintf("客户%d版%d", i, version)
	}
	return r
}

// scaleRows is perTuple rows for each business type and plan type of the
// months.
func scaleRows(months, businesses []string, perTuple, version int) []map[string]any {
	var out []map[string]any
	for _, m := range months {
		for _, bt := range businesses {
			for _, pt := range planTypes {
				for i := range perTuple {
					out = append(out, scaleRow(m, bt, pt, i, version))
				}
			}
		}
	}
	return out
}

// scaleContent renders the table's written columns row by row, sorted, as
// PostgreSQL prints them.
func scaleContent(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	cols := make([]string, len(scaleColumns))
	for i, c := range scaleColumns {
		cols[i] = `coalesce("` + c + `"::text, '∅')`
	}
	rows, err := pool.Query(context.Background(), `SELECT concat_ws('|', `+strings.Join(cols, ", ")+`) FROM business."规模明细"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// expectContent renders rows as scaleContent does for the stored table.
func expectContent(rows []map[string]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(scaleColumns))
		for j, c := range scaleColumns {
			parts[j] = storedText(c, r[c])
		}
		out[i] = strings.Join(parts, "|")
	}
	slices.Sort(out)
	return out
}

// storedText is how PostgreSQL prints a value of column c: numerics with
// their column's scale.
func storedText(c string, v any) string {
	scale := map[string]int{"当期收益率": 6, "年化收益率": 6}[c]
	if scale == 0 && strings.ContainsAny(c, "规供流待投") {
		scale = 4
	}
	switch x := v.(type) {
	case nil:
		return "∅"
	case float64:
		return fmt.Sprintf("%.*f", scale, x)
	case string:
		if scale > 0 {
			whole, frac, _ := strings.Cut(x, ".")
			return whole + "." + frac + strings.Repeat("0", scale-len(frac))
		}
		return x
	}
	panic(fmt.Sprintf("value %T", v))
}

// without returns rows minus those of month and business type.
func without(rows []map[string]any, month, business string) []map[string]any {
	var out []map[string]any
	for _, r := range rows {
		if r["月度"] != month || r["业务类型"] != business {
			out = append(out, r)
		}
	}
	return out
}

// loadVia sends rows to the table with delete_insert over the refresh key,
// as one Load or as a stream of messages of 97 rows.
func loadVia(t *testing.T, b *bundle, stream bool, cfg *loadsvcv1.LoadConfig, maps []map[string]any) *loadsvcv1.LoadResponse {
	t.Helper()
	var resp *loadsvcv1.LoadResponse
	var err error
	if stream {
		var msgs []*loadsvcv1.LoadStreamRequest
		for chunk := range slices.Chunk(maps, 97) {
			msgs = append(msgs, &loadsvcv1.LoadStreamRequest{Rows: rows(t, chunk...)})
		}
		resp, err = send(context.Background(), t, b.client, cfg, msgs...)
	} else {
		resp, err = b.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: rows(t, maps...)})
	}
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// onBothRPCs runs test, in parallel, once over Load and once over
// LoadStream, each on a fresh setup.
func onBothRPCs(t *testing.T, test func(t *testing.T, b *bundle, stream bool)) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "Load", true: "LoadStream"}[stream], func(t *testing.T) {
			t.Parallel()
			test(t, setup(t), stream)
		})
	}
}

func refreshConfig() *loadsvcv1.LoadConfig {
	return &loadsvcv1.LoadConfig{Schema: "business", Table: "规模明细", Mode: loadsvcv1.Mode_MODE_DELETE_INSERT, Pk: refreshKey, ChunkSize: 128}
}

// The pipeline's own load: two months of every business and plan type, then
// one month of one business type again with fewer rows, by the refresh key
// (month, business type, plan type) that thousands of rows share. Every row
// is inserted, every target row of a reloaded key tuple deleted; the plan's
// script does the same on a twin database; Load and LoadStream agree.
func TestRefreshKeyDeleteInsert(t *testing.T) {
	t.Parallel()
	onBothRPCs(t, func(t *testing.T, b *bundle, stream bool) {
		b.exec1(t, scaleTable)
		months := []string{"2024-11-01", "2024-12-01"}

		first := scaleRows(months, businessTypes, 40, 0)
		resp := loadVia(t, b, stream, refreshConfig(), first)
		if resp.Deleted != 0 || resp.Inserted != 640 || resp.Rows != 640 || resp.DuplicatesDropped != 0 {
			t.Errorf("first load: %v", resp)
		}
		if got, want := scaleContent(t, b.admin), expectContent(first); !slices.Equal(got, want) {
			t.Fatalf("after the first load the table differs: %d rows, want %d\nfirst got  %q\nfirst want %q", len(got), len(want), got[0], want[0])
		}
		if !slices.Equal(resp.SkippedColumns, nil) {
			t.Errorf("skipped columns %q", resp.SkippedColumns)
		}

		// The twin: the first state, made by the plan's own script.
		cfg := refreshConfig()
		cfg.PlanOnly = true
		plan := loadVia(t, b, false, cfg, first)
		twinURL := cluster.NewDatabase(t)
		twin := testenv.NewPool(t, twinURL, 1)
		if _, err := twin.Exec(context.Background(), scaleTable); err != nil {
			t.Fatal(err)
		}
		runScript(t, twinURL, plan.SqlScript)
		if !slices.Equal(scaleContent(t, twin), scaleContent(t, b.admin)) {
			t.Fatal("the first plan's script and the first load left different tables")
		}

		// Reload November of one business type with 25 rows a tuple.
		again := scaleRows(months[:1], businessTypes[:1], 25, 1)
		plan = loadVia(t, b, false, cfg, again)
		if plan.Deleted != 2 || plan.Inserted != 50 || plan.Rows != 50 {
			t.Errorf("plan of the reload: deleted %d (key tuples), inserted %d, rows %d; want 2, 50, 50", plan.Deleted, plan.Inserted, plan.Rows)
		}
		resp = loadVia(t, b, stream, refreshConfig(), again)
		if resp.Deleted != 80 || resp.Inserted != 50 || resp.Rows != 50 {
			t.Errorf("reload: deleted %d, inserted %d, rows %d; want 80, 50, 50", resp.Deleted, resp.Inserted, resp.Rows)
		}
		want := expectContent(append(without(first, months[0], businessTypes[0]), again...))
		if got := scaleContent(t, b.admin); !slices.Equal(got, want) {
			t.Fatalf("after the reload the table differs: %d rows, want %d", len(got), len(want))
		}
		runScript(t, twinURL, plan.SqlScript)
		if !slices.Equal(scaleContent(t, twin), want) {
			t.Error("the reload plan's script and the reload left different tables")
		}
		if n := b.count(t, `SELECT count(*) FROM business."规模明细" WHERE updated_at <> created_at`); n != 0 {
			t.Errorf("%d rows were updated in place; delete_insert only deletes and inserts", n)
		}
		b.clean(t)
	})
}

// fill_null_only on the table's unique business key (month, plan code,
// portfolio code) fills the customer names the table lacks, leaves the
// others, counts an absent key as skipped, and fires the update trigger.
func TestRefreshTableFillNullOnly(t *testing.T) {
	t.Parallel()
	onBothRPCs(t, func(t *testing.T, b *bundle, stream bool) {
		b.exec1(t, scaleTable)
		first := scaleRows([]string{"2024-11-01"}, businessTypes[:1], 6, 0)
		loadVia(t, b, false, refreshConfig(), first)

		// Rows 0 and 3 of each plan type have no customer name; row 1
		// has one, which must stay; one key is absent.
		var fill []map[string]any
		for _, pt := range planTypes {
			for _, i := range []int{0, 1, 3} {
				r := scaleRow("2024-11-01", businessTypes[0], pt, i, 0)
				fill = append(fill, map[string]any{"月度": r["月度"], "计划代码": r["计划代码"], "组合代码": r["组合代码"], "客户名称": fmt.Sprintf("补%d", i), "company_id": "ignored"})
			}
		}
		fill = append(fill, map[string]any{"月度": "2024-11-01", "计划代码": "nope", "组合代码": "nope", "客户名称": "x", "company_id": "x"})
		cfg := &loadsvcv1.LoadConfig{Schema: "business", Table: "规模明细", Mode: loadsvcv1.Mode_MODE_FILL_NULL_ONLY, Pk: []string{"月度", "计划代码", "组合代码"}}
		resp := loadVia(t, b, stream, cfg, fill)
		if resp.Updated != 4 || resp.Skipped != 1 || resp.Inserted != 0 || resp.Deleted != 0 {
			t.Errorf("fill_null_only: %v", resp)
		}
		if n := b.count(t, `SELECT count(*) FROM business."规模明细" WHERE "客户名称" LIKE '补%'`); n != 4 {
			t.Errorf("%d customer names filled, want 4", n)
		}
		if n := b.count(t, `SELECT count(*) FROM business."规模明细" WHERE "客户名称" = '补1' OR company_id = 'ignored'`); n != 0 {
			t.Errorf("%d values that were not NULL were overwritten", n)
		}
		if n := b.count(t, `SELECT count(*) FROM business."规模明细" WHERE updated_at > created_at`); n != 4 {
			t.Errorf("the update trigger stamped %d rows, want 4", n)
		}
		if n := b.count(t, `SELECT count(*) FROM business."规模明细"`); n != 12 {
			t.Errorf("table has %d rows, want 12", n)
		}
		b.clean(t)
	})
}

// Keys are compared with PostgreSQL's equality on both RPCs: "1" and "1.0"
// are one numeric key, so DUPLICATES_KEEP_LAST keeps the last and
// DUPLICATES_REFUSE refuses, over Load and over LoadStream alike.
func TestDuplicatesComparedAsTyped(t *testing.T) {
	t.Parallel()
	onBothRPCs(t, func(t *testing.T, b *bundle, stream bool) {
		b.exec1(t, `CREATE TABLE n (k numeric PRIMARY KEY, v text); INSERT INTO n VALUES (1, 'old')`)
		maps := []map[string]any{{"k": "1", "v": "first"}, {"k": "2", "v": "two"}, {"k": "1.0", "v": "last"}}
		cfg := &loadsvcv1.LoadConfig{Table: "n", Mode: loadsvcv1.Mode_MODE_UPSERT, Pk: []string{"k"}, Duplicates: loadsvcv1.Duplicates_DUPLICATES_KEEP_LAST}
		resp := loadVia(t, b, stream, cfg, maps)
		if resp.DuplicatesDropped != 1 || resp.Updated != 1 || resp.Inserted != 1 || resp.Rows != 3 {
			t.Errorf("keep_last: %v", resp)
		}
		if n := b.count(t, `SELECT count(*) FROM n WHERE k = 1 AND v = 'last'`); n != 1 {
			t.Error("key 1 does not hold the last row")
		}

		cfg.Duplicates = loadsvcv1.Duplicates_DUPLICATES_REFUSE
		maps[1]["v"] = "changed"
		var err error
		if stream {
			_, err = send(context.Background(), t, b.client, cfg, &loadsvcv1.LoadStreamRequest{Rows: rows(t, maps...)})
		} else {
			_, err = b.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: rows(t, maps...)})
		}
		wantCode(t, err, codes.InvalidArgument, `rows 0 and 2 have the same key ("k"=1.0)`)
		if n := b.count(t, `SELECT count(*) FROM n WHERE v = 'changed'`); n != 0 {
			t.Error("a refused load wrote")
		}
		b.clean(t)
	})
}

// The policies each mode refuses, named in the error, before any connection.
func TestDuplicatesPolicyPerMode(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB())
	cases := []struct {
		mode loadsvcv1.Mode
		dup  loadsvcv1.Duplicates
		msg  string
	}{
		{loadsvcv1.Mode_MODE_UPSERT, loadsvcv1.Duplicates_DUPLICATES_KEEP_ALL, "duplicates keep_all is for mode delete_insert only; mode upsert"},
		{loadsvcv1.Mode_MODE_INSERT_MISSING, loadsvcv1.Duplicates_DUPLICATES_KEEP_ALL, "duplicates keep_all is for mode delete_insert only; mode insert_missing"},
		{loadsvcv1.Mode_MODE_FILL_NULL_ONLY, loadsvcv1.Duplicates_DUPLICATES_KEEP_ALL, "duplicates keep_all is for mode delete_insert only; mode fill_null_only"},
		{loadsvcv1.Mode_MODE_APPEND, loadsvcv1.Duplicates_DUPLICATES_REFUSE, "duplicates refuse needs a key-based mode; mode append"},
	}
	for _, c := range cases {
		_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Mode: c.mode, Pk: []string{"id"}, Duplicates: c.dup},
			Rows:   seqRows(t, 0, 2)})
		st := wantCode(t, err, codes.InvalidArgument, c.msg)
		if f := badRequestField(t, st); f != "config.duplicates" {
			t.Errorf("%s: field %q", c.mode, f)
		}
	}
}
