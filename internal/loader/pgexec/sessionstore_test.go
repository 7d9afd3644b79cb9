package pgexec_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// A principal's limit counts every session that holds a stage: one that
// expired counts until the sweep drops it, and then its place is free.
func TestSessionLimitCountsUnsweptStages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	st := &pgexec.SessionStore{Exec: b.exec, MaxPerPrincipal: 1}
	cfg := loader.Config{Table: "t", Keys: []string{"id"}, Principal: "p"}
	if _, err := st.Begin(ctxT(t), cfg, time.Hour); err != nil {
		t.Fatal(err)
	}
	b.sql(t, `UPDATE loadsvc.load_sessions SET expires_at = now() - interval '1 second'`)
	var ve *loader.ValidationError
	if _, err := st.Begin(ctxT(t), cfg, time.Hour); !errors.As(err, &ve) || !ve.Limit {
		t.Fatalf("a Begin while an expired session's stage is unswept: %v; want the limit", err)
	}
	if n, err := st.Sweep(ctxT(t)); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v; want 1", n, err)
	}
	if got := b.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'loadsvc_stage'`); got != 0 {
		t.Fatalf("%d stages left after the sweep", got)
	}
	if _, err := st.Begin(ctxT(t), cfg, time.Hour); err != nil {
		t.Fatalf("a Begin after the sweep: %v", err)
	}
}

// A session's stage holds at most MaxRows rows, all writers together: the
// append that would pass it is refused and stores nothing.
func TestSessionMaxRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	st := &pgexec.SessionStore{Exec: b.exec, MaxRows: 3}
	s, err := st.Begin(ctxT(t), loader.Config{Table: "t", Keys: []string{"id"}, Principal: "p"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rows := func(ids ...int) *loader.Batch {
		var r []map[string]any
		for _, id := range ids {
			r = append(r, map[string]any{"id": id, "v": "x"})
		}
		return testrows.Batch(t, r)
	}
	if _, err := st.Append(ctxT(t), loader.Append{SessionID: s.ID, Principal: "p", Writer: "a", Batch: rows(1, 2)}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Append(ctxT(t), loader.Append{SessionID: s.ID, Principal: "p", Writer: "b", Batch: rows(3, 4)})
	var ve *loader.ValidationError
	if !errors.As(err, &ve) || !ve.Limit || !strings.Contains(err.Error(), "LOADSVC_MAX_SESSION_ROWS=3") {
		t.Fatalf("an append past the session's rows: %v; want the limit", err)
	}
	if _, err := st.Append(ctxT(t), loader.Append{SessionID: s.ID, Principal: "p", Writer: "b", Batch: rows(3)}); err != nil {
		t.Fatalf("an append up to the limit: %v", err)
	}
	if out, err := st.Append(ctxT(t), loader.Append{SessionID: s.ID, Principal: "p", Writer: "empty", Batch: &loader.Batch{Columns: []string{"id"}}}); err != nil || out.NextOffset != 0 {
		t.Fatalf("an empty append: %v, %v", out, err)
	}
	got, err := st.Get(ctxT(t), "p", s.ID)
	if err != nil || got.Rows != 3 || len(got.Writers) != 2 {
		t.Fatalf("the session holds %v (%v), want 3 rows of writers a and b (an empty batch adds no writer)", got, err)
	}
	if n := b.count(t, `SELECT count(*) FROM loadsvc_stage."s_`+s.ID+`"`); n != 3 {
		t.Fatalf("the stage holds %d rows, want 3", n)
	}
}

// A session holds at most MaxWriters writers: a new writer past them is
// refused and stores nothing, while a writer it holds appends on.
func TestSessionMaxWriters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	st := &pgexec.SessionStore{Exec: b.exec, MaxWriters: 2}
	s, err := st.Begin(ctxT(t), loader.Config{Table: "t", Keys: []string{"id"}, Principal: "p"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	app := func(writer string, offset int64, id int) (*loader.Appended, error) {
		return st.Append(ctxT(t), loader.Append{SessionID: s.ID, Principal: "p", Writer: writer, Offset: offset,
			Batch: testrows.Batch(t, []map[string]any{{"id": id, "v": writer}})})
	}
	for i, w := range []string{"a", "b"} {
		if _, err := app(w, 0, i); err != nil {
			t.Fatal(err)
		}
	}
	_, err = app("c", 0, 3)
	var ve *loader.ValidationError
	if !errors.As(err, &ve) || !ve.Limit || ve.Field != "writer" || !strings.Contains(err.Error(), `holds 2 writers, the most one session may (2)`) {
		t.Fatalf("a third writer: %v; want the writers' limit", err)
	}
	if out, err := app("a", 1, 4); err != nil || out.NextOffset != 2 {
		t.Fatalf("a writer the session holds: %v, %v", out, err)
	}
	got, err := st.Get(ctxT(t), "p", s.ID)
	if err != nil || got.Rows != 3 || len(got.Writers) != 2 {
		t.Fatalf("the session holds %v (%v), want 3 rows of writers a and b", got, err)
	}
	if n := b.count(t, `SELECT count(*) FROM loadsvc_stage."s_`+s.ID+`"`); n != 3 {
		t.Fatalf("the stage holds %d rows, want 3", n)
	}
}

// An append whose batch is many pieces of the search for bad values long
// names a bad value of its first piece and one of its last, and stores
// nothing.
func TestSessionAppendSearchesEveryPiece(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE t (id int PRIMARY KEY, v text, day date)`)
	st := &pgexec.SessionStore{Exec: b.exec}
	s, err := st.Begin(ctxT(t), loader.Config{Table: "t", Mode: loader.ModeAppend, Principal: "p"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const n, last = 30000, 29990 // 30,000 rows of some 150 bytes: 4 MiB and more of COPY text
	writer := strings.Repeat("w", 100)
	r := make([]map[string]any, n)
	for i := range r {
		r[i] = map[string]any{"id": i, "v": "some text", "day": "2024-11-01"}
	}
	r[2]["day"], r[last]["day"] = "2024-13-01", "2024-02-30"
	_, err = st.Append(ctxT(t), loader.Append{SessionID: s.ID, Principal: "p", Writer: writer, Batch: testrows.Batch(t, r)})
	var le *loader.LoadError
	if !errors.As(err, &le) || le.Rows == nil || len(le.Rows.Errors) != 2 || le.Rows.Errors[0].Row != 2 || le.Rows.Errors[1].Row != last {
		t.Fatalf("an append with bad dates in rows 2 and %d: %v; want both named", last, err)
	}
	if got := b.count(t, `SELECT count(*) FROM loadsvc_stage."s_`+s.ID+`"`); got != 0 {
		t.Fatalf("the stage holds %d rows after a refused append", got)
	}
}
