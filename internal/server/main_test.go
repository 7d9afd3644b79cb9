package server_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/server"
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
	exec   *loader.Executor
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
	b := &bundle{}
	if o.url == "" && !o.noDB {
		b.url = cluster.NewDatabase(t)
		o.url = b.url
		b.admin = newPool(t, b.url, 4)
	}
	if !o.noDB {
		b.pool = newPool(t, o.url, o.maxConns)
	}
	b.exec = &loader.Executor{Pool: b.pool, AcquireTimeout: 5 * time.Second}
	sopt := server.Options{MaxRows: o.maxRows, MaxStreamRows: o.maxStreamRows}
	if o.server != nil {
		o.server(&sopt)
	}
	srv := server.New(b.exec, sopt)
	b.client = serve(t, srv)
	return b
}

func withMaxConns(n int) func(*setupOpts) { return func(o *setupOpts) { o.maxConns = n } }
func withURL(u string) func(*setupOpts)   { return func(o *setupOpts) { o.url = u } }
func withNoDB() func(*setupOpts)          { return func(o *setupOpts) { o.noDB = true } }
func withServer(f func(*server.Options)) func(*setupOpts) {
	return func(o *setupOpts) { o.server = f }
}

func newPool(t *testing.T, url string, maxConns int) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = int32(maxConns)
	loader.ConfigurePool(cfg, 3*time.Second)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// serve runs srv on a loopback port and returns a client of it.
func serve(t *testing.T, srv *server.Server) loadsvcv1.LoadServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(append(server.ServerOptions(zap.NewNop()), grpc.MaxRecvMsgSize(64<<20))...)
	server.Register(gs, srv)
	go gs.Serve(lis) //nolint:errcheck // ends with Stop
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.Stop()
	})
	return loadsvcv1.NewLoadServiceClient(conn)
}

// exec runs admin SQL on the test's database.
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
