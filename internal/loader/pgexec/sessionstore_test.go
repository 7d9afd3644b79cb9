package pgexec_test

import (
	"errors"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
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
