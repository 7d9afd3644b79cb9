package pgexec_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/testenv"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.MainWithLeakCheck(m, &cluster)) }

// bundle is one test's fresh database, the executor's pool on it and a
// separate admin pool for setup and checks.
type bundle struct {
	url   string
	pool  *pgxpool.Pool // the executor's pool
	admin *pgxpool.Pool // the test's own pool
	exec  *pgexec.Executor
}

// setup creates a fresh database, an executor on a pool of at most two
// connections and an admin pool, all closed at cleanup.
func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{url: cluster.NewDatabase(t)}
	b.pool = testenv.NewPool(t, b.url, 2)
	b.admin = testenv.NewPool(t, b.url, 2)
	b.exec = &pgexec.Executor{Pool: b.pool, AcquireTimeout: 5 * time.Second, StatementTimeout: 20 * time.Second}
	return b
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sql runs admin SQL (one or more statements, simple protocol) on the
// test's database.
func (b *bundle) sql(t *testing.T, sql string) {
	t.Helper()
	if _, err := b.admin.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// count returns the result of a count query.
func (b *bundle) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := b.admin.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// text returns a one-value query's result as text; ok is false for NULL.
func (b *bundle) text(t *testing.T, sql string, args ...any) (s string, ok bool) {
	t.Helper()
	var p *string
	if err := b.admin.QueryRow(context.Background(), sql, args...).Scan(&p); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if p == nil {
		return "", false
	}
	return *p, true
}

// dump returns every row of table (an SQL table expression, already
// quoted) as record text, sorted, one a line.
func dump(t *testing.T, pool *pgxpool.Pool, table string) string {
	t.Helper()
	var s *string
	q := "SELECT string_agg(r::text, E'\\n' ORDER BY r::text COLLATE \"C\") FROM " + table + " AS r"
	if err := pool.QueryRow(context.Background(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if s == nil {
		return ""
	}
	return *s
}

// assertClean checks that no load left anything behind: no connection of
// the executor's pool acquired, no session of the database idle in a
// transaction, no TEMP table anywhere in the database, and the pool's own
// sessions outside any transaction without a stage.
func (b *bundle) assertClean(t *testing.T) {
	t.Helper()
	if n := b.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("pool has %d acquired connections after the load, want 0", n)
	}
	if n := b.count(t, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'"); n != 0 {
		t.Errorf("%d sessions idle in transaction, want 0", n)
	}
	if n := b.count(t, "SELECT count(*) FROM pg_class WHERE relpersistence = 't'"); n != 0 {
		t.Errorf("%d temp tables left in the database, want 0", n)
	}
	// Every idle connection of the executor's pool, one by one.
	ctx := context.Background()
	conns := b.pool.AcquireAllIdle(ctx)
	for _, c := range conns {
		if st := c.Conn().PgConn().TxStatus(); st != 'I' {
			t.Errorf("pooled session has transaction status %q, want 'I'", st)
		}
		var stage *string
		if err := c.QueryRow(ctx, "SELECT to_regclass('pg_temp.loadsvc_stage')::text").Scan(&stage); err != nil {
			t.Errorf("pooled session unusable after the load: %v", err)
		} else if stage != nil {
			t.Errorf("pooled session still has the stage table %s", *stage)
		}
	}
	for _, c := range conns {
		c.Release()
	}
	if n := b.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("pool has %d acquired connections after the check, want 0", n)
	}
}

// row is one JSON row for a test.
type row = map[string]any

// load plans and runs rows, failing the test on any error.
func (b *bundle) load(t *testing.T, cfg loader.Config, rows []row) *loader.Result {
	t.Helper()
	res, err := b.exec.Run(ctxT(t), cfg, loader.OneBatch(testrows.Batch(t, rows)))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// psqlPath is the psql of the test cluster, else the one on the system.
func psqlPath(t *testing.T) string {
	t.Helper()
	if p := filepath.Join(cluster.BinDir(), "psql"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	t.Fatal("no psql found")
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// runPsql runs script with psql --single-transaction -v ON_ERROR_STOP=1 -f
// on the database at url; env adds to a scrubbed environment (no PG*).
func runPsql(t *testing.T, url, script string, env ...string) (string, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "load.sql")
	if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, psqlPath(t), "--no-psqlrc", "--single-transaction", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", f)
	cmd.Dir = filepath.Dir(f)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), errors.New(err.Error() + ": " + string(out))
	}
	return string(out), nil
}
