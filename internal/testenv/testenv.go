// Package testenv owns the in-process service that tests run against: a
// fresh database on a pgtest cluster, the test's own pool on it, the
// service's pool and Executor, a loadsvc gRPC server (with the health
// service) on a loopback port and a client connection to it, all torn down
// at the test's cleanup; the loadsvc binary run as a process of its own
// (Process), for the tests that need one; a throwaway certificate
// authority (CA) for TLS and mutual TLS; and the ways tests wait for a
// condition instead of sleeping (WaitUntil, FileOpens). It links the
// testing package: only _test.go files import it.
//
//	e := testenv.New(t, cluster, testenv.MaxConns(1))
//	e.Admin.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY)")
//	_, err := e.Client.Load(ctx, req)
package testenv

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loadsvc/loadsvc/internal/dsn"
	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/pgcluster"
	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/server"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Env is one test's database and in-process service.
type Env struct {
	URL    string        // the test's database, reached directly; "" with NoDatabase
	Admin  *pgxpool.Pool // the test's own pool on URL, for setup and checks; nil with NoDatabase
	Pool   *pgxpool.Pool // the service's pool; nil when the service has no database
	Exec   *pgexec.Executor
	Server *server.Server
	Health *health.Server // every service SERVING until a test says otherwise
	Addr   string         // the gRPC server's loopback address
	Conn   *grpc.ClientConn
	Client loadsvcv1.LoadServiceClient
}

type options struct {
	database       string // the test's database; "" for a fresh one
	noDatabase     bool
	serviceURL     string // "" for the test's database
	maxConns       int
	connectTimeout time.Duration
	adminPool      func(*pgxpool.Config)
	servicePool    func(*pgxpool.Config)
	executor       func(*pgexec.Executor)
	wrap           func(server.Executor) server.Executor
	server         func(*server.Options)
	logger         *zap.Logger
	grpcServer     []grpc.ServerOption
	maxMessage     int
}

// Option changes what New sets up.
type Option func(*options)

// Database makes the test's database url (on any cluster) instead of a
// fresh one; it is not dropped at cleanup.
func Database(url string) Option { return func(o *options) { o.database = url } }

// NoDatabase sets up no database: no URL, no Admin, and no service pool
// unless ServiceURL names one (every load is then UNAVAILABLE).
func NoDatabase() Option { return func(o *options) { o.noDatabase = true } }

// ServiceURL points the service's pool at url instead of the test's
// database (PgBouncer in front of it, a closed port, a wrong password).
func ServiceURL(url string) Option { return func(o *options) { o.serviceURL = url } }

// MaxConns is the size of the service's pool (default 4).
func MaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// ConnectTimeout is given to pgexec.ConfigurePool for the service's pool
// (default 3s; 0 is pgexec's default).
func ConnectTimeout(d time.Duration) Option { return func(o *options) { o.connectTimeout = d } }

// AdminPool adjusts the test's own pool (size 4 by default) before it is
// made.
func AdminPool(f func(*pgxpool.Config)) Option { return func(o *options) { o.adminPool = f } }

// ServicePool adjusts the service's pool before pgexec.ConfigurePool and
// before it is made (an application_name, a proxy's address).
func ServicePool(f func(*pgxpool.Config)) Option { return func(o *options) { o.servicePool = f } }

// Executor adjusts the service's Executor (AcquireTimeout 5s by default).
func Executor(f func(*pgexec.Executor)) Option { return func(o *options) { o.executor = f } }

// WrapExecutor puts f's executor between the server and the real one, to
// change what the server's loads see (a row source that fails).
func WrapExecutor(f func(server.Executor) server.Executor) Option {
	return func(o *options) { o.wrap = f }
}

// Server adjusts the server's options.
func Server(f func(*server.Options)) Option { return func(o *options) { o.server = f } }

// Logger is the service's logger: server.Options.Logger and the panic
// logger of server.ServerOptions (default: none).
func Logger(l *zap.Logger) Option { return func(o *options) { o.logger = l } }

// GRPCServer adds options to the gRPC server (interceptors, credentials).
func GRPCServer(opts ...grpc.ServerOption) Option {
	return func(o *options) { o.grpcServer = append(o.grpcServer, opts...) }
}

// MaxMessageSize raises the gRPC message size limit of both the server and
// Conn to n bytes (default: gRPC's 4 MiB).
func MaxMessageSize(n int) Option { return func(o *options) { o.maxMessage = n } }

// New sets up a database on cluster (cluster may be nil with Database or
// NoDatabase) and serves loadsvc on it until t's cleanup.
func New(t testing.TB, cluster *pgtest.Cluster, opts ...Option) *Env {
	t.Helper()
	o := options{maxConns: 4, connectTimeout: 3 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	e := &Env{}
	if !o.noDatabase {
		e.URL = o.database
		if e.URL == "" {
			e.URL = cluster.NewDatabase(t)
		}
		e.Admin = newPool(t, e.URL, func(cfg *pgxpool.Config) {
			cfg.MaxConns = 4
			if o.adminPool != nil {
				o.adminPool(cfg)
			}
		}, 0)
	}
	serviceURL := o.serviceURL
	if serviceURL == "" {
		serviceURL = e.URL
	}
	if serviceURL != "" {
		e.Pool = newPool(t, serviceURL, func(cfg *pgxpool.Config) {
			cfg.MaxConns = int32(o.maxConns)
			if o.servicePool != nil {
				o.servicePool(cfg)
			}
		}, o.connectTimeout)
	}
	e.Exec = &pgexec.Executor{Pool: e.Pool, AcquireTimeout: 5 * time.Second}
	if o.executor != nil {
		o.executor(e.Exec)
	}
	log := o.logger
	if log == nil {
		log = zap.NewNop()
	}
	sopt := server.Options{Logger: o.logger, Ledger: e.Exec.Ledger, Sessions: &pgexec.SessionStore{Exec: e.Exec}}
	if o.server != nil {
		o.server(&sopt)
	}
	var exec server.Executor = e.Exec
	if o.wrap != nil {
		exec = o.wrap(exec)
	}
	e.Server = server.New(exec, sopt)
	e.serve(t, log, o)
	return e
}

// NewPool makes a pool of maxConns connections on url, configured as the
// service configures its own, closed at t's cleanup.
func NewPool(t testing.TB, url string, maxConns int) *pgxpool.Pool {
	t.Helper()
	return NewPoolWith(t, url, maxConns, func(*pgxpool.Config) {})
}

// NewPoolWith is NewPool with adjust changing the config before the pool
// is made, for example with NeverPing.
func NewPoolWith(t testing.TB, url string, maxConns int, adjust func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	return newPool(t, url, func(cfg *pgxpool.Config) {
		cfg.MaxConns = int32(maxConns)
		adjust(cfg)
	}, 3*time.Second)
}

// NeverPing makes a pool hand out its idle connections without pinging
// them, as pgxpool does within a second of a connection's last use whatever
// the machine's load: a backend that died meanwhile is found by the first
// statement. For NewPoolWith and ServicePool.
func NeverPing(cfg *pgxpool.Config) {
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
}

// newPool parses url as cmd/loadsvc does, lets adjust change the config,
// applies pgexec.ConfigurePool and makes the pool, closed at t's cleanup.
func newPool(t testing.TB, url string, adjust func(*pgxpool.Config), connectTimeout time.Duration) *pgxpool.Pool {
	t.Helper()
	cfg, err := dsn.Check(url)
	if err != nil {
		t.Fatal(err)
	}
	adjust(cfg)
	pgexec.ConfigurePool(cfg, connectTimeout)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// serve runs e.Server and a health server (every service SERVING) on a
// loopback port and dials it.
func (e *Env) serve(t testing.TB, log *zap.Logger, o options) {
	t.Helper()
	gopts := server.ServerOptions(log)
	var callOpts []grpc.CallOption
	if o.maxMessage > 0 {
		gopts = append(gopts, grpc.MaxRecvMsgSize(o.maxMessage))
		callOpts = append(callOpts, grpc.MaxCallRecvMsgSize(o.maxMessage), grpc.MaxCallSendMsgSize(o.maxMessage))
	}
	gs := grpc.NewServer(append(gopts, o.grpcServer...)...)
	server.Register(gs, e.Server)
	e.Health = health.NewServer()
	e.Health.SetServingStatus(server.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, e.Health)
	var dialOpts []grpc.DialOption
	if len(callOpts) > 0 {
		dialOpts = append(dialOpts, grpc.WithDefaultCallOptions(callOpts...))
	}
	e.Conn = ServeGRPC(t, gs, dialOpts...)
	e.Addr = e.Conn.Target()
	e.Client = loadsvcv1.NewLoadServiceClient(e.Conn)
}

// ServeGRPC serves gs on a free loopback port and returns a plaintext
// client connection to it, dialled with opts. At t's cleanup the
// connection is closed and gs stopped; a Serve that ended with an error
// fails t.
func ServeGRPC(t testing.TB, gs *grpc.Server, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }() // nil once stopped
	stop := func() {
		gs.Stop()
		if err := <-served; err != nil {
			t.Errorf("gRPC server: %v", err)
		}
	}
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient(lis.Addr().String(), opts...)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		stop()
	})
	return conn
}

// Texts runs sql on pool and returns the first column of every row as text,
// "NULL" for NULL.
func Texts(t testing.TB, pool *pgxpool.Pool, sql string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v *string
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if v == nil {
			out = append(out, "NULL")
		} else {
			out = append(out, *v)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// FreeAddr is a 127.0.0.1 address whose port was free a moment ago, for a
// server a test starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// WaitUntil polls cond until it holds, and fails t when it still does not
// after timeout; what names the awaited condition for the failure. Tests
// wait with it instead of sleeping for a while that a busy machine can
// outlast.
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not so after %v: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
