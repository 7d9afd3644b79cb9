package server_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// The 规模明细-shaped table of issue 20 and its seven bad cells.
const badScaleTable = `CREATE TABLE "规模明细" (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "月度" date NOT NULL,
  "业务类型" varchar(255),
  "计划代码" varchar(12) NOT NULL,
  "当期收益率" numeric(10,6),
  "供款" numeric(18,4) CONSTRAINT "供款非负" CHECK ("供款" >= 0),
  "户数" integer)`

// badScaleRows are n rows with the bad cells (row, column, value) set; want
// is each one's "row column sqlstate value" on the wire.
func badScaleRows(t *testing.T, n int) (rows []*structpb.Struct, want []string) {
	long := strings.Repeat("码", 40) // 120 bytes: capped on the wire
	bad := []struct {
		row         int
		col         string
		value       any
		state, wire string
	}{
		{3, "月度", "2024-13-01", "22008", "2024-13-01"},
		{40, "当期收益率", "一百万", "22P02", "一百万"},
		{41, "当期收益率", "12345.678", "22003", "12345.678"},
		{41, "户数", "3.5", "22P02", "3.5"}, // a second bad value of the same row
		{77, "计划代码", long, "22001", strings.Repeat("码", 20) + "…"},
		{90, "计划代码", nil, "23502", ""},
		{120, "供款", -5, "23514", ""},
	}
	maps := make([]map[string]any, n)
	for i := range maps {
		maps[i] = map[string]any{"月度": "2024-11-01", "业务类型": "企年受托", "计划代码": fmt.Sprintf("P%05d", i), "当期收益率": "0.5", "供款": 1, "户数": i}
	}
	for _, b := range bad {
		maps[b.row][b.col] = b.value
		col := b.col
		if b.state == "23514" {
			col = ""
		}
		want = append(want, fmt.Sprintf("%d %s %s %q", b.row, col, b.state, b.wire))
	}
	return rowsOf(t, maps), want
}

func rowsOf(t *testing.T, maps []map[string]any) []*structpb.Struct {
	t.Helper()
	return rows(t, maps...)
}

// wireRowErrors returns the RowErrors detail of st as "row column sqlstate
// value" lines.
func wireRowErrors(t *testing.T, st *status.Status) ([]string, *loadsvcv1.RowErrors) {
	t.Helper()
	for _, d := range st.Details() {
		if re, ok := d.(*loadsvcv1.RowErrors); ok {
			return rowErrorLines(re.GetErrors()), re
		}
	}
	t.Fatalf("status %s %q has no RowErrors detail", st.Code(), st.Message())
	return nil, nil
}

func rowErrorLines(errs []*loadsvcv1.RowError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%d %s %s %q", e.GetRow(), e.GetColumn(), e.GetSqlstate(), e.GetValue()))
	}
	return out
}

func TestRowErrorsOnTheWire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, badScaleTable)
	rows, want := badScaleRows(t, 150)
	cfg := &loadsvcv1.LoadConfig{Table: "规模明细", Mode: loadsvcv1.Mode_MODE_APPEND, ChunkSize: 50}
	ctx := ctxTimeout(t, 30*time.Second)

	_, err := b.client.Load(ctx, &loadsvcv1.LoadRequest{Config: cfg, Rows: rows})
	st := wantCode(t, err, codes.InvalidArgument, `load failed: date/time field value out of range: "2024-13-01"`)
	if st.Message() != `load failed: date/time field value out of range: "2024-13-01"` {
		t.Errorf("message %q, want PostgreSQL's for the first bad row alone, as before", st.Message())
	}
	got, re := wireRowErrors(t, st)
	if !reflect.DeepEqual(got, want) || re.GetTruncated() {
		t.Errorf("Load: row errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c := re.GetErrors()[len(re.GetErrors())-1]; c.GetConstraint() != "供款非负" || c.GetMessage() == "" {
		t.Errorf("the CHECK's row error names constraint %q, message %q", c.GetConstraint(), c.GetMessage())
	}
	if ei := errorInfo(t, st); ei.Metadata["sqlstate"] != "22008" || ei.Metadata["column"] != "月度" {
		t.Errorf("ErrorInfo %v, want the first bad row's sqlstate and column", ei.Metadata)
	}

	// The same rows in messages of 7: rows are counted across messages.
	var msgs []*loadsvcv1.LoadStreamRequest
	for i := 0; i < len(rows); i += 7 {
		msgs = append(msgs, &loadsvcv1.LoadStreamRequest{Rows: rows[i:min(i+7, len(rows))]})
	}
	_, err = send(ctx, t, b.client, cfg, msgs...)
	st = wantCode(t, err, codes.InvalidArgument, "load failed: ")
	if got, _ := wireRowErrors(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("LoadStream: row errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Within the budget: the good rows are written, the bad ones listed.
	budget := proto.Clone(cfg).(*loadsvcv1.LoadConfig)
	budget.MaxRejectedRows = 6
	resp, err := b.client.Load(ctx, &loadsvcv1.LoadRequest{Config: budget, Rows: rows})
	if err != nil {
		t.Fatalf("Load within the budget: %v", err)
	}
	if got := rowErrorLines(resp.GetRejected()); resp.GetRejectedRows() != 6 || resp.GetInserted() != 144 || !reflect.DeepEqual(got, want) {
		t.Errorf("rejected %d rows, inserted %d, rejected\n%s\nwant 6, 144 and\n%s", resp.GetRejectedRows(), resp.GetInserted(), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := b.count(t, `SELECT count(*) FROM "规模明细"`); n != 144 {
		t.Errorf("table holds %d rows, want 144", n)
	}
	// One over: nothing more is written.
	budget.MaxRejectedRows = 5
	_, err = b.client.Load(ctx, &loadsvcv1.LoadRequest{Config: budget, Rows: rows})
	wantCode(t, err, codes.InvalidArgument, "load failed: ")
	if n := b.count(t, `SELECT count(*) FROM "规模明细"`); n != 144 {
		t.Errorf("table holds %d rows after a load over its budget, want 144", n)
	}
	b.clean(t)
}

// The first bad row in row order sets the code: a unique violation against
// a row the table holds is ALREADY_EXISTS, though a later row has bad data.
func TestRowErrorsCodeOfTheFirstRow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE plans (code text PRIMARY KEY, n int); INSERT INTO plans VALUES ('X', 1)`)
	ctx := ctxTimeout(t, 30*time.Second)
	_, err := b.client.Load(ctx, &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "plans", Mode: loadsvcv1.Mode_MODE_APPEND},
		Rows: rows(t, map[string]any{"code": "A", "n": 1}, map[string]any{"code": "X", "n": 2}, map[string]any{"code": "B", "n": "x"})})
	st := wantCode(t, err, codes.AlreadyExists, `load failed: duplicate key value violates unique constraint "plans_pkey"`)
	if got, _ := wireRowErrors(t, st); !reflect.DeepEqual(got, []string{`1  23505 ""`, `2 n 22P02 "x"`}) {
		t.Errorf("row errors %q", got)
	}
	if n := b.count(t, `SELECT count(*) FROM plans`); n != 1 {
		t.Errorf("table holds %d rows, want 1", n)
	}
	b.clean(t)
}

func TestMissingKeysOnTheWire(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB())
	ctx := ctxTimeout(t, 30*time.Second)
	_, err := b.client.Load(ctx, &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"k"}},
		Rows: rows(t, map[string]any{"k": 1}, map[string]any{"k": nil}, map[string]any{"v": 1}, map[string]any{"k": 2})})
	st := wantCode(t, err, codes.InvalidArgument, `row 1 has no value for key column "k" (missing or null); 2 rows lack a key value`)
	if f := badRequestField(t, st); f != "rows[1].k" {
		t.Errorf("BadRequest field %q", f)
	}
	if got, _ := wireRowErrors(t, st); !reflect.DeepEqual(got, []string{`1 k  ""`, `2 k  ""`}) {
		t.Errorf("row errors %q", got)
	}
}

// A plan never sees the database: it takes max_rejected_rows and answers
// as without it.
func TestPlanTakesRejectBudget(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB())
	ctx := ctxTimeout(t, 30*time.Second)
	req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"k"}, PlanOnly: true}, Rows: rows(t, map[string]any{"k": 1})}
	plain, err := b.client.Load(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.Config.MaxRejectedRows = 10
	budget, err := b.client.Load(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if plain.GetSqlScript() != budget.GetSqlScript() || budget.GetRejectedRows() != 0 {
		t.Errorf("a plan with max_rejected_rows differs from one without")
	}
	req.Config.MaxRejectedRows = -1
	_, err = b.client.Load(ctx, req)
	wantCode(t, err, codes.InvalidArgument, "max_rejected_rows -1 is negative")
	// A budget is bounded before the load starts: the rows it rejects are
	// held until it ends.
	req.Config.MaxRejectedRows = 100_001
	_, err = b.client.Load(ctx, req)
	wantCode(t, err, codes.InvalidArgument, "max_rejected_rows 100001 is more than a load may reject, 100000")
}
