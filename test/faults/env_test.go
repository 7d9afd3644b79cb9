package faults_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
	"github.com/loadsvc/loadsvc/test/faults/netfault"
)

const (
	// svcApp is the application_name of the service's sessions, so that
	// the tests can find (and kill) them in pg_stat_activity.
	svcApp = "loadsvc-faults"
	// adminApp is the application_name of the tests' own sessions.
	adminApp = "loadsvc-faults-admin"
)

// setupSQL runs in every test database: the probe table the after-fault
// check loads into, and a trigger function that sleeps TG_ARGV[0] seconds
// per row, which makes a COPY or an INSERT slow and observable.
const setupSQL = `
CREATE TABLE faults_probe (id int PRIMARY KEY, v text);
CREATE FUNCTION faults_slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(TG_ARGV[0]::float8); RETURN NEW; END $$;
`

// env is one test's database, service (pool, executor, gRPC server) and
// clients, torn down at cleanup.
type env struct {
	cl     *pgtest.Cluster
	url    string        // the test database, reached directly
	admin  *pgxpool.Pool // the test's own sessions (setup, checks, kills)
	pool   *pgxpool.Pool // the service's pool
	exec   *pgexec.Executor
	proxy  *netfault.Proxy // nil unless withProxy
	client loadsvcv1.LoadServiceClient
	health healthpb.HealthClient
	hs     *health.Server
	srv    *server.Server
	obs    *observer
}

type envOpts struct {
	own       bool // a cluster of the test's own (for stop and restart)
	maxConns  int
	acquire   time.Duration // Executor.AcquireTimeout
	statement time.Duration // Executor.StatementTimeout
	lock      time.Duration // Executor.LockTimeout
	connect   time.Duration // connect timeout given to ConfigurePool; 0: pgexec's default
	proxy     bool          // the service reaches PostgreSQL through a netfault proxy
}

type opt func(*envOpts)

func ownCluster() opt                      { return func(o *envOpts) { o.own = true } }
func maxConns(n int) opt                   { return func(o *envOpts) { o.maxConns = n } }
func acquireTimeout(d time.Duration) opt   { return func(o *envOpts) { o.acquire = d } }
func statementTimeout(d time.Duration) opt { return func(o *envOpts) { o.statement = d } }
func lockTimeout(d time.Duration) opt      { return func(o *envOpts) { o.lock = d } }
func connectTimeout(d time.Duration) opt   { return func(o *envOpts) { o.connect = d } }
func withProxy() opt                       { return func(o *envOpts) { o.proxy = true } }

// newEnv sets up a fresh database (on the shared cluster unless ownCluster)
// and an in-process service on it. The server reports the process SERVING
// and loadsvc NOT_SERVING until watchDatabase says otherwise.
func newEnv(t *testing.T, opts ...opt) *env {
	t.Helper()
	o := envOpts{maxConns: 4, acquire: 10 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	e := &env{cl: cluster, obs: &observer{}}
	if o.own {
		cl, err := pgtest.Start()
		if err != nil {
			t.Fatalf("own cluster: %v", err)
		}
		t.Cleanup(func() {
			if err := cl.Close(); err != nil {
				t.Errorf("close own cluster: %v", err)
			}
		})
		e.cl = cl
	}
	if o.proxy {
		p, err := netfault.Listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(e.cl.Port())))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		e.proxy = p
	}
	s := testenv.New(t, e.cl,
		testenv.AdminPool(func(cfg *pgxpool.Config) { cfg.ConnConfig.RuntimeParams["application_name"] = adminApp }),
		testenv.MaxConns(o.maxConns),
		testenv.ConnectTimeout(o.connect),
		testenv.ServicePool(func(cfg *pgxpool.Config) {
			cfg.ConnConfig.RuntimeParams["application_name"] = svcApp
			if e.proxy != nil {
				cfg.ConnConfig.Host = "127.0.0.1"
				cfg.ConnConfig.Port = uint16(e.proxy.Port())
			}
		}),
		testenv.Executor(func(x *pgexec.Executor) {
			x.AcquireTimeout, x.StatementTimeout, x.LockTimeout = o.acquire, o.statement, o.lock
		}),
		testenv.Server(func(so *server.Options) { so.Observer = e.obs }),
		testenv.MaxMessageSize(64<<20))
	e.url, e.admin, e.pool, e.exec, e.srv = s.URL, s.Admin, s.Pool, s.Exec, s.Server
	e.client, e.hs, e.health = s.Client, s.Health, healthpb.NewHealthClient(s.Conn)
	e.hs.SetServingStatus(server.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	e.execSQL(t, setupSQL)
	e.migrate(t)
	return e
}

// migrate brings loadsvc's own tables up, as cmd/loadsvc does at start:
// otherwise the first loads migrate, and a test that kills the service's
// session running "INSERT%" could kill the migration's INSERT rather than
// the load's. It uses a pool of its own, closed after, so the service's
// pool starts empty as the tests expect (a blackhole at connect).
func (e *env) migrate(t *testing.T) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	x := &pgexec.Executor{Pool: pool, Ledger: e.exec.Ledger}
	if err := x.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

// watchDatabase runs the server's WatchDatabase on its pool and health
// server, pinging every interval, until the test ends.
func (e *env) watchDatabase(t *testing.T, every time.Duration) {
	wctx, stop := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { defer close(watched); e.srv.WatchDatabase(wctx, e.hs, every) }()
	t.Cleanup(func() { stop(); <-watched })
}

// --- the test's own SQL ------------------------------------------------------

func (e *env) execSQL(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.admin.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int64
	if err := e.admin.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// content is a table of (id, v) as "id=v,..." in id order.
func (e *env) content(t *testing.T, table string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s string
	q := `SELECT coalesce(string_agg(id::text || '=' || coalesce(v, 'NULL'), ',' ORDER BY id, v), '') FROM ` + table
	if err := e.admin.QueryRow(ctx, q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// wantContent fails unless table holds exactly want ("id=v,..." in id order).
func (e *env) wantContent(t *testing.T, table, want string) {
	t.Helper()
	if got := e.content(t, table); got != want {
		t.Errorf("table %s holds\n  %.300s\nwant\n  %.300s", table, got, want)
	}
}

// serviceBackends is how many sessions the service has open now.
func (e *env) serviceBackends(ctx context.Context) (int64, error) {
	var n int64
	err := e.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, svcApp).Scan(&n)
	return n, err
}

// waitBackend waits until a service session runs a statement LIKE pattern
// and returns its pid.
func (e *env) waitBackend(t *testing.T, pattern string) int32 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var pid int32
		err := e.admin.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = $1 AND state = 'active' AND query LIKE $2 LIMIT 1`, svcApp, pattern).Scan(&pid)
		if err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no service session runs %q after 20s (last: %v)", pattern, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// terminate kills a backend the way an operator (or the OOM killer's
// gentler cousin) would.
func (e *env) terminate(t *testing.T, pid int32) {
	t.Helper()
	var ok bool
	if err := e.admin.QueryRow(context.Background(), `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d): %v %v", pid, ok, err)
	}
}

// --- PostgreSQL up and down (own cluster only) -------------------------------

func (e *env) restart(t *testing.T) {
	t.Helper()
	if err := e.cl.Restart(); err != nil {
		t.Fatal(err)
	}
	e.admin.Reset() // the test's own sessions died too
}

func (e *env) stop(t *testing.T) {
	t.Helper()
	if err := e.cl.Stop(); err != nil {
		t.Fatal(err)
	}
	e.admin.Reset()
}

func (e *env) startAgain(t *testing.T) {
	t.Helper()
	if err := e.cl.StartAgain(); err != nil {
		t.Fatal(err)
	}
	e.admin.Reset()
}

// --- outcomes the server reports -------------------------------------------

// observer records the outcome of every load RPC as the server saw it
// (the server's own status code, where the client may see only its own
// cancel or deadline).
type observer struct {
	mu  sync.Mutex
	out []server.Outcome
}

func (o *observer) LoadStarted(string) {}

func (o *observer) LoadFinished(_ string, out server.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.out = append(o.out, out)
}

// wait returns the outcomes on table once there are at least n, waiting up
// to 20s.
func (o *observer) wait(t *testing.T, table string, n int) []server.Outcome {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []server.Outcome
		o.mu.Lock()
		for _, out := range o.out {
			if out.Table == table {
				got = append(got, out)
			}
		}
		o.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("server reported %d outcomes on %s after 20s, want %d", len(got), table, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// code is the server's code of the nth (1-based) load on table.
func (o *observer) code(t *testing.T, table string, n int) codes.Code {
	t.Helper()
	return o.wait(t, table, n)[n-1].Code
}

func ident(i int) string { return strconv.Itoa(i) }

func fmtDur(d time.Duration) string { return fmt.Sprint(d.Round(time.Millisecond)) }
