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

// beginOn begins a session of principal p on cfg's table with st, and
// returns it with a function that appends a writer's batch at an offset.
func beginOn(t *testing.T, st *pgexec.SessionStore, cfg loader.Config) (*loader.Session, func(writer string, offset int64, rows *loader.Batch) (*loader.Appended, error)) {
	t.Helper()
	cfg.Principal = "p"
	s, err := st.Begin(ctxT(t), cfg, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s, func(writer string, offset int64, rows *loader.Batch) (*loader.Appended, error) {
		return st.Append(ctxT(t), loader.Append{SessionID: s.ID, Principal: "p", Writer: writer, Offset: offset, Batch: rows})
	}
}

// wantHeld holds session s to rows rows of writers writers, by its
// writers' offsets and in its stage.
func (b *bundle) wantHeld(t *testing.T, st *pgexec.SessionStore, s *loader.Session, rows int64, writers int) {
	t.Helper()
	got, err := st.Get(ctxT(t), "p", s.ID)
	if err != nil || got.Rows != rows || len(got.Writers) != writers {
		t.Fatalf("the session holds %v (%v), want %d rows of %d writers", got, err, rows, writers)
	}
	if n := b.staged(t, s); n != rows {
		t.Fatalf("the stage holds %d rows, want %d", n, rows)
	}
}

// idRows is a batch of rows of t (id int PRIMARY KEY, v text), one of
// each id.
func idRows(t *testing.T, ids ...int) *loader.Batch {
	var r []map[string]any
	for _, id := range ids {
		r = append(r, map[string]any{"id": id, "v": "x"})
	}
	return testrows.Batch(t, r)
}

// staged is how many rows the stage of session s holds.
func (b *bundle) staged(t *testing.T, s *loader.Session) int64 {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM loadsvc_stage."s_`+s.ID+`"`)
}

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
	s, app := beginOn(t, st, loader.Config{Table: "t", Keys: []string{"id"}})
	if _, err := app("a", 0, idRows(t, 1, 2)); err != nil {
		t.Fatal(err)
	}
	_, err := app("b", 0, idRows(t, 3, 4))
	var ve *loader.ValidationError
	if !errors.As(err, &ve) || !ve.Limit || !strings.Contains(err.Error(), "LOADSVC_MAX_SESSION_ROWS=3") {
		t.Fatalf("an append past the session's rows: %v; want the limit", err)
	}
	if _, err := app("b", 0, idRows(t, 3)); err != nil {
		t.Fatalf("an append up to the limit: %v", err)
	}
	if out, err := app("empty", 0, &loader.Batch{Columns: []string{"id"}}); err != nil || out.NextOffset != 0 {
		t.Fatalf("an empty append: %v, %v", out, err)
	}
	b.wantHeld(t, st, s, 3, 2) // writers a and b: an empty batch adds no writer
}

// A session holds at most MaxWriters writers: a new writer past them is
// refused and stores nothing, while a writer it holds appends on.
func TestSessionMaxWriters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	st := &pgexec.SessionStore{Exec: b.exec, MaxWriters: 2}
	s, app := beginOn(t, st, loader.Config{Table: "t", Keys: []string{"id"}})
	for i, w := range []string{"a", "b"} {
		if _, err := app(w, 0, idRows(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := app("c", 0, idRows(t, 3))
	var ve *loader.ValidationError
	if !errors.As(err, &ve) || !ve.Limit || ve.Field != "writer" || !strings.Contains(err.Error(), `holds 2 writers, the most one session may (2)`) {
		t.Fatalf("a third writer: %v; want the writers' limit", err)
	}
	if out, err := app("a", 1, idRows(t, 4)); err != nil || out.NextOffset != 2 {
		t.Fatalf("a writer the session holds: %v, %v", out, err)
	}
	b.wantHeld(t, st, s, 3, 2) // writers a and b
}

// An append whose batch is many pieces of the search for bad values long
// names a bad value of its first piece and one of its last, and stores
// nothing.
func TestSessionAppendSearchesEveryPiece(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE t (id int PRIMARY KEY, v text, day date)`)
	s, app := beginOn(t, &pgexec.SessionStore{Exec: b.exec}, loader.Config{Table: "t", Mode: loader.ModeAppend})
	const n, last = 30000, 29990 // 30,000 rows of some 150 bytes: 4 MiB and more of COPY text
	writer := strings.Repeat("w", 100)
	r := make([]map[string]any, n)
	for i := range r {
		r[i] = map[string]any{"id": i, "v": "some text", "day": "2024-11-01"}
	}
	r[2]["day"], r[last]["day"] = "2024-13-01", "2024-02-30"
	_, err := app(writer, 0, testrows.Batch(t, r))
	var le *loader.LoadError
	if !errors.As(err, &le) || le.Rows == nil || len(le.Rows.Errors) != 2 || le.Rows.Errors[0].Row != 2 || le.Rows.Errors[1].Row != last {
		t.Fatalf("an append with bad dates in rows 2 and %d: %v; want both named", last, err)
	}
	if got := b.staged(t, s); got != 0 {
		t.Fatalf("the stage holds %d rows after a refused append", got)
	}
}
