package pgbouncer

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/loadsvc/loadsvc/internal/pgtest"
)

var (
	cluster *pgtest.Cluster
	pgb     *bouncer
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

// run starts the cluster and pgbouncer, runs the tests, stops both and
// checks for leaked goroutines. Without pgbouncer the tests fail, never skip.
func run(m *testing.M) int {
	// pgbouncer dies with the thread that forked it (Pdeathsig): fork it
	// from this one, which lives as long as the test binary.
	runtime.LockOSThread()
	if !flag.Parsed() {
		flag.Parse()
	}
	if _, err := os.Stat(pgbouncerBin); err != nil {
		fail("%s is missing (%v); these tests need Debian's pgbouncer: run `make postgres`", pgbouncerBin, err)
		return 1
	}
	cl, err := pgtest.Start()
	if err != nil {
		fail("cannot start a PostgreSQL cluster: %v; run `make postgres`", err)
		return 1
	}
	code := runWith(m, cl)
	if err := cl.Close(); err != nil && code == 0 {
		fail("close cluster: %v", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fail("goleak: Errors on successful test run: %v", err)
			code = 1
		}
	}
	return code
}

// runWith starts pgbouncer in front of cl and runs the tests.
func runWith(m *testing.M, cl *pgtest.Cluster) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createSingleDB(ctx, cl); err != nil {
		fail("create database %s: %v", singleDB, err)
		return 1
	}
	began := time.Now()
	b, err := startBouncer(cl)
	if err != nil {
		fail("cannot start pgbouncer: %v", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "pgbouncer: %s on %s in front of PostgreSQL on 127.0.0.1:%d, started in %v\n",
			b.version, b.addr(), cl.Port(), time.Since(began).Round(time.Millisecond))
	}
	cluster, pgb = cl, b
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "pgbouncer log:\n%s\n", b.log())
	}
	if err := b.close(); err != nil && code == 0 {
		fail("%v", err)
		code = 1
	}
	return code
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pgbouncer tests: FAIL: "+format+"\n", args...)
}
