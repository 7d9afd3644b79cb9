package client_test

import (
	"context"
	"github.com/loadsvc/loadsvc/client"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"

	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.MainWithLeakCheck(m, &cluster)) }

// env is one test's database and a real loadsvc on a loopback port.
type env struct {
	admin  *pgxpool.Pool // the test's own pool, for setup and checks
	addr   string
	health *health.Server
	auth   *testenv.AuthRecorder
	logs   *observer.ObservedLogs // the service's access lines
}

// setup starts a fresh database on the shared cluster and a service on it.
func setup(t *testing.T) *env { return setupURL(t, cluster.NewDatabase(t)) }

// setupURL starts a service on the database at url ("" for none), with the
// health service, the authorization recorder and the access lines.
func setupURL(t *testing.T, url string) *env {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	e := &env{auth: &testenv.AuthRecorder{}, logs: logs}
	db := testenv.Database(url)
	if url == "" {
		db = testenv.NoDatabase()
	}
	s := testenv.New(t, nil, db,
		testenv.Server(func(o *server.Options) { o.MaxRows = 100_000 }),
		testenv.Logger(zap.New(core)),
		testenv.MaxMessageSize(64<<20),
		testenv.GRPCServer(e.auth.ServerOptions()...))
	e.admin, e.addr, e.health = s.Admin, s.Addr, s.Health
	return e
}

// dial returns a Client of the test's service, closed at cleanup.
func (e *env) dial(t *testing.T, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(e.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := e.admin.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.admin.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// texts is one column of a query as text, "NULL" for NULL.
func (e *env) texts(t *testing.T, sql string) []string {
	t.Helper()
	return testenv.Texts(t, e.admin, sql)
}

// idle waits until no other session of the database is in a transaction
// or running a statement: the service has finished with its load.
func (e *env) idle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND pid <> pg_backend_pid() AND (state <> 'idle' OR xact_start IS NOT NULL)`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the service's session is still busy after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requestIDs is the request_id of each load so far, from the access lines.
func (e *env) requestIDs() []string {
	var ids []string
	for _, l := range e.logs.FilterMessage("load").All() {
		id, _ := l.ContextMap()["request_id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// wantError fails unless err is an *Error with code.
func wantError(t *testing.T, err error, code codes.Code) *client.Error {
	t.Helper()
	e, ok := client.AsError(err)
	if !ok {
		t.Fatalf("error %v (%T) does not convert to *Error", err, err)
	}
	if e.Code != code {
		t.Fatalf("got %s %q, want %s", e.Code, e.Message, code)
	}
	return e
}
