package client_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// badRows are five rows, the second and fourth bad (a date out of range,
// text in an integer column).
func badRows() []client.Row {
	return []client.Row{
		{"id": 1, "day": "2024-11-01"},
		{"id": 2, "day": "2024-13-01"},
		{"id": 3, "day": "2024-11-02"},
		{"id": "x", "day": "2024-11-03"},
		{"id": 5, "day": "2024-11-04"},
	}
}

// TestRowErrorsAndRejected: a load refused for its rows lists every bad
// row in Error.RowErrors, by its index in the load (across a Writer's
// messages too); under MaxRejectedRows the good rows are written and
// resp.Rejected lists the others.
func TestRowErrorsAndRejected(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, `CREATE TABLE t (id int, day date)`)
	c := e.dial(t, client.Options{})
	ctx := ctxTimeout(t, 30*time.Second)
	cfg := &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}
	_, err := c.Load(ctx, cfg, badRows())
	wantRowErrors(t, wantError(t, err, codes.InvalidArgument).RowErrors, 1, 3)

	w, err := c.NewWriter(ctx, cfg, client.WriterOptions{BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range badRows() {
		if err = w.Write(r); err != nil {
			break
		}
	}
	if err == nil {
		_, err = w.Close()
	}
	wantRowErrors(t, wantError(t, err, codes.InvalidArgument).RowErrors, 1, 3)
	if n := e.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Fatalf("refused loads wrote %d rows", n)
	}

	cfg.MaxRejectedRows = 2
	resp, err := c.Load(ctx, cfg, badRows())
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetInserted() != 3 || resp.GetRejectedRows() != 2 {
		t.Errorf("inserted %d, rejected %d; want 3, 2", resp.GetInserted(), resp.GetRejectedRows())
	}
	wantRowErrors(t, resp.GetRejected(), 1, 3)
	if got := e.texts(t, `SELECT id || ' ' || day FROM t ORDER BY id`); len(got) != 3 || got[0] != "1 2024-11-01" || got[2] != "5 2024-11-04" {
		t.Errorf("table: %q", got)
	}
}

// wantRowErrors fails unless errs are of the rows given, in order, with
// the bad value's column, value and SQLSTATE.
func wantRowErrors(t *testing.T, errs []*loadsvcv1.RowError, rows ...int64) {
	t.Helper()
	want := map[int64][3]string{1: {"day", "2024-13-01", "22008"}, 3: {"id", "x", "22P02"}}
	if len(errs) != len(rows) {
		t.Fatalf("%d row errors, want %d: %v", len(errs), len(rows), errs)
	}
	for i, r := range rows {
		got := errs[i]
		if got.GetRow() != r || [3]string{got.GetColumn(), got.GetValue(), got.GetSqlstate()} != want[r] || got.GetMessage() == "" {
			t.Errorf("row error %d: %v, want row %d %v", i, got, r, want[r])
		}
	}
}

// TestHistoryLabelsAndDeleteGuard: MaxDeletedRows refuses a load that would
// delete more, and History lists the loads with their labels, newest
// first, paging to its limit.
func TestHistoryLabelsAndDeleteGuard(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, `CREATE TABLE t (k int, v text); INSERT INTO t SELECT 1, 'old' FROM generate_series(1, 5)`)
	c := e.dial(t, client.Options{})
	ctx := ctxTimeout(t, 30*time.Second)
	cfg := &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"k"}, MaxDeletedRows: 4, Labels: map[string]string{"source": "nov.csv"}}
	_, err := c.Load(ctx, cfg, []client.Row{{"k": 1, "v": "new"}})
	if e := wantError(t, err, codes.FailedPrecondition); e.Reason != "DELETE_LIMIT_EXCEEDED" {
		t.Errorf("reason %q, want DELETE_LIMIT_EXCEEDED", e.Reason)
	}
	if n := e.count(t, `SELECT count(*) FROM t WHERE v = 'old'`); n != 5 {
		t.Fatalf("the refused load changed the table: %d old rows", n)
	}
	var ids []string
	for i := range 3 {
		cfg.MaxDeletedRows = 5
		cfg.Labels = map[string]string{"source": "nov.csv", "run": string(rune('a' + i))}
		resp, err := c.Load(ctx, cfg, []client.Row{{"k": 1, "v": "new"}})
		if err != nil || resp.GetLoadId() == "" {
			t.Fatalf("load %d: %v, load_id %q", i, err, resp.GetLoadId())
		}
		ids = append([]string{resp.GetLoadId()}, ids...)
	}
	all, err := c.History(ctx, &loadsvcv1.ListLoadsRequest{Table: "t", PageSize: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[3].GetStatus() != "failed" || all[3].GetCode() != "FAILED_PRECONDITION" {
		t.Fatalf("history: %v", all)
	}
	for i, id := range ids {
		if all[i].GetLoadId() != id || all[i].GetStatus() != "committed" || all[i].GetLabels()["run"] != string(rune('c'-i)) {
			t.Errorf("record %d: %v, want load %s", i, all[i], id)
		}
	}
	two, err := c.History(ctx, &loadsvcv1.ListLoadsRequest{Table: "t", Status: "committed"}, 2)
	if err != nil || len(two) != 2 || two[0].GetLoadId() != ids[0] {
		t.Errorf("History limit 2: %v, %v", two, err)
	}
}
