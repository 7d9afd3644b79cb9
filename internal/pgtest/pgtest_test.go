package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/pgtest"
)

var cluster *pgtest.Cluster

const helperEnv = "PGTEST_SELFTEST_NO_POSTGRES"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		// Run by TestMainFailsWithoutPostgres with PG_BINDIR pointing nowhere.
		var c *pgtest.Cluster
		os.Exit(pgtest.Main(m, &c))
	}
	os.Exit(pgtest.MainWithLeakCheck(m, &cluster))
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func dbName(t *testing.T, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

func TestNewDatabaseConcurrentAndDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 12
	var mu sync.Mutex
	var names []string
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				url := cluster.NewDatabase(t)
				mu.Lock()
				names = append(names, dbName(t, url))
				mu.Unlock()
				conn := connect(t, url)
				// A session still open at cleanup must not keep the
				// database from being dropped.
				if _, err := conn.Exec(ctx, "CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 100)"); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
	if len(names) != n {
		t.Fatalf("%d databases, want %d", len(names), n)
	}
	admin := connect(t, cluster.URL("postgres"))
	var left int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", names).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d of the test databases were not dropped", left)
	}
}

// TestMainFailsWithoutPostgres runs this test binary again with no usable
// PostgreSQL: Main must fail it (exit code 1), never skip.
func TestMainFailsWithoutPostgres(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "PG_BINDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("exit: %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "cannot start a PostgreSQL cluster") {
		t.Fatalf("output does not say why:\n%s", out)
	}
}
