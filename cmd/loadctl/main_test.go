package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"

	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
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
	auth   testenv.AuthRecorder // the authorization headers the server saw
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
	s := &service{}
	gopts := s.auth.ServerOptions()
	if o.creds != nil {
		gopts = append(gopts, grpc.Creds(o.creds))
	}
	e := testenv.New(t, cluster,
		testenv.Server(func(so *server.Options) { so.MaxRows = o.maxRows }),
		testenv.GRPCServer(gopts...))
	s.url, s.addr, s.admin, s.health = e.URL, e.Addr, e.Admin, e.Health
	return s
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
	return testenv.Texts(t, s.admin, sql)
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
