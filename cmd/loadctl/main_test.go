package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/server"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	plainInterval = 20 * time.Millisecond // so that a short load shows progress lines
	os.Exit(pgtest.MainWithLeakCheck(m, &cluster))
}

// service is one test's database and a real loadsvc gRPC server on a
// loopback port, torn down at cleanup.
type service struct {
	url    string
	addr   string
	admin  *pgxpool.Pool
	health *health.Server

	mu    sync.Mutex
	auths []string // the authorization headers the server saw
}

type serviceOpts struct {
	maxRows int
	creds   credentials.TransportCredentials
}

// startService starts a fresh database and a loadsvc server on it.
func startService(t *testing.T, opts ...func(*serviceOpts)) *service {
	t.Helper()
	var o serviceOpts
	for _, f := range opts {
		f(&o)
	}
	s := &service{url: cluster.NewDatabase(t)}
	s.admin = newPool(t, s.url)
	exec := &loader.Executor{Pool: newPool(t, s.url), AcquireTimeout: 5 * time.Second}
	srv := server.New(exec, server.Options{MaxRows: o.maxRows})
	gopts := append(server.ServerOptions(zap.NewNop()),
		grpc.ChainUnaryInterceptor(s.unaryAuth), grpc.ChainStreamInterceptor(s.streamAuth))
	if o.creds != nil {
		gopts = append(gopts, grpc.Creds(o.creds))
	}
	gs := grpc.NewServer(gopts...)
	server.Register(gs, srv)
	s.health = health.NewServer()
	s.health.SetServingStatus(server.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, s.health)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = lis.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		gs.Serve(lis) //nolint:errcheck // ends with Stop
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
	})
	return s
}

func newPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	loader.ConfigurePool(cfg, 3*time.Second)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func (s *service) unaryAuth(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	s.sawAuth(ctx)
	return h(ctx, req)
}

func (s *service) streamAuth(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	s.sawAuth(ss.Context())
	return h(srv, ss)
}

func (s *service) sawAuth(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auths = append(s.auths, strings.Join(md.Get("authorization"), ","))
}

func (s *service) authHeaders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// exec runs admin SQL on the service's database.
func (s *service) exec(t *testing.T, sql string) {
	t.Helper()
	if _, err := s.admin.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// query returns the first column of every row of sql, as text ("NULL" for
// NULL).
func (s *service) query(t *testing.T, sql string) []string {
	t.Helper()
	rows, err := s.admin.Query(context.Background(), sql)
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

// result is one run of loadctl.
type result struct {
	code           int
	stdout, stderr string
}

// run runs loadctl in-process with args and stdin.
func run(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := realMain(ctx, args, stdin, &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// mustRun runs loadctl and fails the test unless it exits 0.
func mustRun(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	r := run(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("loadctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// writeFile writes content to a file named name in a fresh directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
