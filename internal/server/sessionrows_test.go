package server_test

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// setupTable is a parallel test's bundle with the table ddl creates, and
// its context.
func setupTable(t *testing.T, ddl string) (*bundle, context.Context) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, ddl)
	return b, ctxTimeout(t, time.Minute)
}

// twoWriterSession begins an append session on t (id int PRIMARY KEY, v
// text NOT NULL) whose writers bring a NULL (writer a, offset 1: row 1 in
// load order) and a repeated id (writer b, offset 1: row 3).
func (b *bundle) twoWriterSession(ctx context.Context, t *testing.T, budget int64) string {
	t.Helper()
	return b.sessionOf(ctx, t, &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, MaxRejectedRows: budget}, map[string][]map[string]any{
		"b": {{"id": 3, "v": "b0"}, {"id": 1, "v": "b1"}, {"id": 4, "v": "b2"}},
		"a": {{"id": 1, "v": "a0"}, {"id": 2, "v": nil}},
	})
}

// sessionOf begins a session of cfg and appends each writer's batch, in
// reverse order of their names.
func (b *bundle) sessionOf(ctx context.Context, t *testing.T, cfg *loadsvcv1.LoadConfig, batches map[string][]map[string]any) string {
	t.Helper()
	s := b.begin(t, ctx, cfg)
	writers := slices.Sorted(maps.Keys(batches))
	slices.Reverse(writers)
	for _, w := range writers {
		if _, err := b.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.SessionId, Writer: w, Rows: rows(t, batches[w]...)}); err != nil {
			t.Fatal(err)
		}
	}
	return s.SessionId
}

// sessionBadRows are the bad rows of twoWriterSession as "row column
// sqlstate value", and the writer each one's message names.
var sessionBadRows = []string{`1 v 23502 ""`, `3  23505 ""`}

// commitFails commits twoWriterSession's session id, which fails on its
// first bad row.
func (b *bundle) commitFails(ctx context.Context, t *testing.T, id string) *status.Status {
	t.Helper()
	_, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: id})
	return wantCode(t, err, codes.FailedPrecondition, `load failed: null value in column "v"`)
}

func wantWriters(t *testing.T, errs []*loadsvcv1.RowError) {
	t.Helper()
	for i, want := range []string{`(writer "a", offset 1)`, `(writer "b", offset 1)`} {
		if i >= len(errs) || !strings.HasSuffix(errs[i].GetMessage(), want) {
			t.Errorf("row error %d does not end with %s: %v", i, want, errs)
		}
	}
}

// A commit whose apply breaks a NOT NULL and a unique constraint, on rows
// of two writers, names both rows by their index in the load order, with
// their writers and offsets, and writes nothing; the session stays open
// with its stage, and can be aborted.
func TestSessionCommitNamesEveryBadRow(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)`)
	id := b.twoWriterSession(ctx, t, 0)

	st := b.commitFails(ctx, t, id)
	got, re := wireRowErrors(t, st)
	if !reflect.DeepEqual(got, sessionBadRows) || re.GetTruncated() {
		t.Errorf("row errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(sessionBadRows, "\n"))
	}
	wantWriters(t, re.GetErrors())
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("a failed commit wrote %d rows", n)
	}
	if n := b.count(t, `SELECT count(*) FROM loadsvc_stage."s_`+id+`"`); n != 5 {
		t.Errorf("the stage holds %d rows after a failed commit, want its 5", n)
	}
	// The history records the failed commit as a failed load of its rows.
	if n := b.count(t, `SELECT count(*) FROM loadsvc.load_history WHERE status = 'failed' AND "table" = 't' AND rows = 5 AND sqlstate <> ''`); n != 1 {
		t.Errorf("%d failed records of the commit in the history, want 1", n)
	}
	if _, err := b.client.AbortLoad(ctx, &loadsvcv1.AbortLoadRequest{SessionId: id}); err != nil {
		t.Fatal(err)
	}
	if n := b.stageLeft(t); n != 0 {
		t.Fatalf("%d things left after the abort", n)
	}
}

// With max_rejected_rows covering them, the same commit writes the good
// rows and lists the rejected ones; one fewer fails it as a whole.
func TestSessionCommitRejectsWithinBudget(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)`)

	over := b.twoWriterSession(ctx, t, 1)
	st := b.commitFails(ctx, t, over)
	if !strings.Contains(st.Message(), "2 bad rows, more than max_rejected_rows=1, so nothing was written") {
		t.Errorf("message %q does not name the budget", st.Message())
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("a commit over its budget wrote %d rows", n)
	}
	if _, err := b.client.AbortLoad(ctx, &loadsvcv1.AbortLoadRequest{SessionId: over}); err != nil {
		t.Fatal(err)
	}

	id := b.twoWriterSession(ctx, t, 2)
	resp, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: id})
	if err != nil {
		t.Fatalf("commit within the budget: %v", err)
	}
	if got := rowErrorLines(resp.GetRejected()); resp.GetRejectedRows() != 2 || resp.GetInserted() != 3 || !reflect.DeepEqual(got, sessionBadRows) {
		t.Errorf("rejected %d rows, inserted %d, rejected\n%s\nwant 2, 3 and\n%s", resp.GetRejectedRows(), resp.GetInserted(), strings.Join(got, "\n"), strings.Join(sessionBadRows, "\n"))
	}
	wantWriters(t, resp.GetRejected())
	if got := testenv.Texts(t, b.admin, `SELECT id || ' ' || v FROM t ORDER BY id`); !slices.Equal(got, []string{"1 a0", "3 b0", "4 b2"}) {
		t.Errorf("the table holds %q", got)
	}
}

// An append with two bad dates names both by the writer's own row numbers
// and stores nothing: the writer's offset stays, and the corrected batch
// resent at that offset is stored.
func TestSessionAppendNamesEveryBadValue(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE d (id int PRIMARY KEY, day date)`)
	s := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "d", Mode: loadsvcv1.Mode_MODE_APPEND})
	day := func(first int, days ...string) []map[string]any {
		out := make([]map[string]any, len(days))
		for i, d := range days {
			out[i] = map[string]any{"id": first + i, "day": d}
		}
		return out
	}
	if _, err := b.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.SessionId, Writer: "w", Rows: rows(t, day(0, "2024-11-01", "2024-11-02", "2024-11-03")...)}); err != nil {
		t.Fatal(err)
	}
	_, err := b.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.SessionId, Writer: "w", Offset: 3,
		Rows: rows(t, day(3, "2024-11-04", "2024-13-01", "2024-11-06", "2024-02-30")...)})
	st := wantCode(t, err, codes.InvalidArgument, `load failed: date/time field value out of range: "2024-13-01"`)
	want := []string{`4 day 22008 "2024-13-01"`, `6 day 22008 "2024-02-30"`}
	if got, re := wireRowErrors(t, st); !reflect.DeepEqual(got, want) || re.GetTruncated() {
		t.Errorf("row errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := b.count(t, `SELECT count(*) FROM loadsvc_stage."s_`+s.SessionId+`"`); n != 3 {
		t.Errorf("the stage holds %d rows after a refused append, want 3", n)
	}
	got, err := b.client.GetLoadSession(ctx, &loadsvcv1.GetLoadSessionRequest{SessionId: s.SessionId})
	if err != nil || got.GetCommitted()["w"] != 3 {
		t.Fatalf("after a refused append: %v %v, want writer w at offset 3", got, err)
	}
	if _, err := b.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.SessionId, Writer: "w", Offset: 3,
		Rows: rows(t, day(3, "2024-11-04", "2024-11-05", "2024-11-06", "2024-11-07")...)}); err != nil {
		t.Fatalf("the corrected batch: %v", err)
	}
	if _, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId}); err != nil {
		t.Fatal(err)
	}
	if got := testenv.Texts(t, b.admin, `SELECT id || ' ' || day FROM d ORDER BY id`); len(got) != 7 || got[4] != "4 2024-11-05" || got[6] != "6 2024-11-07" {
		t.Errorf("the table holds %q", got)
	}
}

// A keyed session numbers its rows in load order before a careful commit:
// the rejected row is writer a's alone, not writer b's row of the same
// offset.
func TestSessionUpsertRejectsWithinBudget(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)`)
	id := b.sessionOf(ctx, t, &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_UPSERT, Pk: []string{"id"}, MaxRejectedRows: 1}, map[string][]map[string]any{
		"a": {{"id": 1, "v": "a0"}, {"id": 2, "v": nil}},
		"b": {{"id": 3, "v": "b0"}, {"id": 4, "v": "b1"}},
	})
	resp, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: id})
	if err != nil {
		t.Fatal(err)
	}
	if got := rowErrorLines(resp.GetRejected()); resp.GetRejectedRows() != 1 || !slices.Equal(got, []string{`1 v 23502 ""`}) {
		t.Errorf("rejected %d rows: %q", resp.GetRejectedRows(), got)
	}
	if got := testenv.Texts(t, b.admin, `SELECT id || ' ' || v FROM t ORDER BY id`); !slices.Equal(got, []string{"1 a0", "3 b0", "4 b1"}) {
		t.Errorf("the table holds %q", got)
	}
}

// A deferred constraint is checked before the commit's COMMIT, where the
// rows that break it can still be named.
func TestSessionCommitNamesDeferredViolation(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE u (id int, v text, CONSTRAINT u_id UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)`)
	id := b.sessionOf(ctx, t, &loadsvcv1.LoadConfig{Table: "u", Mode: loadsvcv1.Mode_MODE_APPEND}, map[string][]map[string]any{
		"a": {{"id": 1, "v": "a0"}, {"id": 1, "v": "a1"}},
	})
	_, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: id})
	st := wantCode(t, err, codes.AlreadyExists, "load failed: duplicate key value")
	if got, _ := wireRowErrors(t, st); !slices.Equal(got, []string{`1  23505 ""`}) {
		t.Errorf("row errors %q", got)
	}
	if n := b.count(t, `SELECT count(*) FROM u`); n != 0 {
		t.Errorf("a failed commit wrote %d rows", n)
	}
}
