package pgexec_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/testenv"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// Replicas starting together migrate once: every step is recorded exactly
// once and the tables exist.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &pgexec.Executor{Pool: testenv.NewPool(t, b.url, 1), AcquireTimeout: 10 * time.Second}
			errs[i] = e.Migrate(ctxT(t))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := b.count(t, "SELECT count(*) FROM loadsvc.schema_version"); got != int64(pgexec.SchemaVersion()) {
		t.Fatalf("schema_version has %d rows, want %d", got, pgexec.SchemaVersion())
	}
	if got := b.count(t, "SELECT count(DISTINCT version) FROM loadsvc.schema_version"); got != int64(pgexec.SchemaVersion()) {
		t.Fatalf("schema_version has %d distinct versions, want %d", got, pgexec.SchemaVersion())
	}
	b.count(t, "SELECT count(*) FROM loadsvc.load_ledger")
}

// A replica that waited for the migration lock while another created the
// schema still migrates. Its session had looked the schema up, finding
// none, after rolling back a migration of its own (a cancelled one), and
// then trusted that lookup: CREATE SCHEMA IF NOT EXISTS failed on the
// unique index (23505 on pg_namespace_nspname_index, in a cancel storm).
func TestMigrateAfterWaitingForTheLock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := ctxT(t)
	// The migrating session had created the schema once in a transaction
	// that was rolled back, as a migration a cancel interrupts does.
	pool := testenv.NewPool(t, b.url, 1)
	if _, err := pool.Exec(ctx, "BEGIN; CREATE SCHEMA loadsvc; ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	holder, err := b.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(1819109735, 0); CREATE SCHEMA loadsvc"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		e := &pgexec.Executor{Pool: pool, AcquireTimeout: 10 * time.Second}
		done <- e.Migrate(ctx)
	}()
	for b.count(t, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == 0 {
		select {
		case err := <-done:
			t.Fatalf("Migrate returned while the lock was held: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Migrate after waiting: %v", err)
	}
	if got := b.count(t, "SELECT max(version) FROM loadsvc.schema_version"); got != int64(pgexec.SchemaVersion()) {
		t.Fatalf("schema_version is at %d, want %d", got, pgexec.SchemaVersion())
	}
}

// A ledger created before versioning is adopted with its rows, and the
// ledger's configured schema holds the version table.
func TestMigrateAdoptsLedger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE SCHEMA own; CREATE TABLE own.ledger (request_id text PRIMARY KEY, target text NOT NULL, mode text NOT NULL,
	  digest text NOT NULL, result jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now());
	  INSERT INTO own.ledger VALUES ('job-1', 't', 'append', 'd', '{}')`)
	e := &pgexec.Executor{Pool: b.pool, Ledger: loader.Ledger{Schema: "own", Table: "ledger"}}
	if err := e.Migrate(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := b.count(t, "SELECT count(*) FROM own.ledger WHERE request_id = 'job-1'"); got != 1 {
		t.Fatalf("adopted ledger has %d rows of job-1, want 1", got)
	}
	if got := b.count(t, "SELECT max(version) FROM own.schema_version"); got != int64(pgexec.SchemaVersion()) {
		t.Fatalf("own.schema_version is at %d, want %d", got, pgexec.SchemaVersion())
	}
}

// Tables a newer binary migrated stop this one, at start and at a load,
// and it writes nothing.
func TestMigrateRefusesNewerTables(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.exec.Migrate(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	newer := pgexec.SchemaVersion() + 1
	b.sql(t, "CREATE TABLE t (id int)")
	if _, err := b.admin.Exec(ctxT(t), "INSERT INTO loadsvc.schema_version (version, name) VALUES ($1, 'from the future')", newer); err != nil {
		t.Fatal(err)
	}
	e := &pgexec.Executor{Pool: b.pool}
	var ve *pgexec.VersionError
	if err := e.Migrate(ctxT(t)); !errors.As(err, &ve) || ve.Tables != newer || ve.Known != pgexec.SchemaVersion() {
		t.Fatalf("Migrate = %v, want a VersionError at %d", err, newer)
	}
	_, err := e.Run(ctxT(t), loader.Config{Table: "t", Mode: loader.ModeAppend}, loader.OneBatch(testrows.Batch(t, []map[string]any{{"id": 1}})))
	if !errors.As(err, new(*loader.LoadError)) || !errors.As(err, &ve) || ve.Tables != newer {
		t.Fatalf("load on newer tables = %v, want a load error naming version %d", err, newer)
	}
	if got := b.count(t, "SELECT count(*) FROM t"); got != 0 {
		t.Fatalf("t has %d rows after a refused load, want 0", got)
	}
}
