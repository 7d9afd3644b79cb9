package server_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.MainWithLeakCheck(m, &cluster)) }

// bundle is one test's database, pool, server and client.
type bundle struct {
	url    string
	pool   *pgxpool.Pool // the service's pool
	admin  *pgxpool.Pool // the test's own pool, for setup and checks
	client loadsvcv1.LoadServiceClient
	exec   *pgexec.Executor
}

type setupOpts struct {
	url           string // when set, the service's URL (no fresh database)
	maxConns      int
	noDB          bool
	maxRows       int
	maxStreamRows int
	server        func(*server.Options) // changes the server's options
}

// setup starts a fresh database, a service pool on it and a real gRPC
// server on a loopback port, all torn down at cleanup.
func setup(t *testing.T, opts ...func(*setupOpts)) *bundle {
	t.Helper()
	o := setupOpts{maxConns: 4}
	for _, f := range opts {
		f(&o)
	}
	envOpts := []testenv.Option{
		testenv.MaxConns(o.maxConns),
		testenv.MaxMessageSize(64 << 20),
		testenv.Server(func(so *server.Options) {
			so.MaxRows, so.MaxStreamRows = o.maxRows, o.maxStreamRows
			if o.server != nil {
				o.server(so)
			}
		}),
	}
	if o.url != "" || o.noDB {
		envOpts = append(envOpts, testenv.NoDatabase())
	}
	if o.url != "" && !o.noDB {
		envOpts = append(envOpts, testenv.ServiceURL(o.url))
	}
	e := testenv.New(t, cluster, envOpts...)
	return &bundle{url: e.URL, pool: e.Pool, admin: e.Admin, client: e.Client, exec: e.Exec}
}

func withMaxConns(n int) func(*setupOpts) { return func(o *setupOpts) { o.maxConns = n } }
func withURL(u string) func(*setupOpts)   { return func(o *setupOpts) { o.url = u } }
func withNoDB() func(*setupOpts)          { return func(o *setupOpts) { o.noDB = true } }
func withServer(f func(*server.Options)) func(*setupOpts) {
	return func(o *setupOpts) { o.server = f }
}

// exec1 runs admin SQL on the test's database.
func (b *bundle) exec1(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := b.admin.Exec(context.Background(), sql, args...); err != nil {
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
