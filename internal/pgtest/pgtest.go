// Package pgtest owns the test-side use of throwaway PostgreSQL clusters
// (internal/pgcluster): one cluster per test binary, started and closed by
// TestMain, and a fresh database per test, dropped at its cleanup. Only
// tests import it; it links the testing package.
//
// The usual shape:
//
//	var cluster *pgtest.Cluster
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &cluster)) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		url := cluster.NewDatabase(t) // fresh database, dropped at cleanup
//		...
//	}
//
// Main fails the test binary (exit code 1) when no cluster can be started:
// these tests never skip for want of a database.
package pgtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/loadsvc/loadsvc/internal/pgcluster"
)

// adminTimeout bounds creating and dropping a test's database.
const adminTimeout = 60 * time.Second

// Cluster is a pgcluster.Cluster with the per-test helpers.
type Cluster struct{ *pgcluster.Cluster }

// Start starts a cluster of the caller's own (see pgcluster.Start); the
// caller closes it.
func Start() (*Cluster, error) {
	c, err := pgcluster.Start()
	if err != nil {
		return nil, err
	}
	return &Cluster{c}, nil
}

// NewDatabase creates a fresh database, a copy of the cluster's template
// database, and returns its URL. The database is dropped, with any sessions
// still connected to it, when t and its subtests finish. It is safe to call
// from parallel tests.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	name, err := c.CreateDatabase(ctx, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !c.Running() {
			return // stopped or closed by the test; Close removes it all
		}
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		if err := c.DropDatabase(ctx, name); err != nil {
			t.Error(err)
		}
	})
	return c.URL(name)
}

// Main is for TestMain: it starts a cluster into *c, runs the tests, closes
// the cluster and returns the exit code for os.Exit. When no cluster can be
// started it says why on stderr and returns 1: the tests fail, never skip.
func Main(m *testing.M, c **Cluster) int {
	began := time.Now()
	cl, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: FAIL: cannot start a PostgreSQL cluster for these tests: %v\n", err)
		fmt.Fprintln(os.Stderr, "pgtest: the tests need a real PostgreSQL server; install it with `make postgres` or point PG_BINDIR at its bin directory")
		return 1
	}
	if !flag.Parsed() {
		flag.Parse() // as m.Run would; testing.Verbose needs it
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "pgtest: PostgreSQL from %s on 127.0.0.1:%d (%s), started in %v\n",
			cl.BinDir(), cl.Port(), cl.Dir(), time.Since(began).Round(time.Millisecond))
	}
	*c = cl
	code := m.Run()
	if err := cl.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: close cluster: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// MainWithLeakCheck is Main followed, when the tests passed, by a goleak
// check for goroutines left running (like goleak.VerifyTestMain).
func MainWithLeakCheck(m *testing.M, c **Cluster, opts ...goleak.Option) int {
	code := Main(m, c)
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: Errors on successful test run: %v\n", err)
			code = 1
		}
	}
	return code
}
