package pgexec_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
)

// oldRecords inserts n records of loads started age ago.
func (b *bundle) oldRecords(t *testing.T, n int, age string) {
	t.Helper()
	b.sql(t, `INSERT INTO loadsvc.load_history (load_id, status, principal, peer, schema, "table", mode, request_id, labels,
		rows, inserted, updated, deleted, skipped, rejected, started_at, finished_at, duration, code, sqlstate, message)
		SELECT gen_random_uuid(), 'committed', '', '', 'public', 't', 'append', '', '{}', 0, 0, 0, 0, 0, 0,
		  now() - interval '`+age+`', now() - interval '`+age+`', interval '0', 'OK', '', ''
		FROM generate_series(1, `+strconv.Itoa(n)+`)`)
}

// PruneHistory deletes the records older than the retention, in batches,
// and keeps the newer; while another replica holds the prune lock it runs
// no DELETE.
func TestPruneHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.exec.Migrate(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	b.oldRecords(t, pgexec.PruneBatch+5, "401 days")
	b.oldRecords(t, 7, "399 days")
	b.oldRecords(t, 3, "1 hour")
	keep := 400 * 24 * time.Hour

	held, err := b.admin.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := held.Exec(ctxT(t), "SELECT pg_advisory_xact_lock("+pgexec.PruneLockClass+", 0)"); err != nil {
		t.Fatal(err)
	}
	n, ran, err := b.exec.PruneHistory(ctxT(t), keep)
	if err != nil || ran || n != 0 {
		t.Errorf("pruning while another replica prunes: deleted %d, ran %v, %v; want none", n, ran, err)
	}
	if err := held.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, ran, err = b.exec.PruneHistory(ctxT(t), keep)
	if err != nil || !ran || n != pgexec.PruneBatch+5 {
		t.Errorf("pruning: deleted %d, ran %v, %v; want %d", n, ran, err, pgexec.PruneBatch+5)
	}
	if got := b.count(t, `SELECT count(*) FROM loadsvc.load_history`); got != 10 {
		t.Errorf("%d records kept, want the 10 newer than 400 days", got)
	}
	if got := b.count(t, `SELECT count(*) FROM loadsvc.load_history WHERE started_at < now() - interval '400 days'`); got != 0 {
		t.Errorf("%d records older than 400 days kept", got)
	}
}
