package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

var (
	cluster *pgtest.Cluster
	binary  string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadsvc-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "loadsvc")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build loadsvc: %v\n%s", err, out)
		os.Exit(1)
	}
	code := pgtest.Main(m, &cluster)
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a service run in-process by realMain.
type proc struct {
	addr   string
	out    *testenv.SyncBuffer
	conn   *grpc.ClientConn
	client loadsvcv1.LoadServiceClient
	stop   context.CancelFunc // as SIGTERM: graceful shutdown
	done   chan error         // realMain's result
}

// environ is a getenv over "KEY=value" entries and nothing else: none of
// the test's own database environment.
func environ(env []string) func(string) string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// start runs realMain with args and env on a free loopback address and
// waits until it serves health checks; the test's end stops it.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	addr := testenv.FreeAddr(t)
	return startOn(t, addr, addr, env, args...)
}

// startOn is start listening on listen, reached at addr.
func startOn(t *testing.T, listen, addr string, env []string, args ...string) *proc {
	t.Helper()
	return launch(t, listen, addr, nil, env, args...)
}

// launch is startOn whose client dials with opts on top of dial's (TLS
// credentials, say).
func launch(t *testing.T, listen, addr string, opts []grpc.DialOption, env []string, args ...string) *proc {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	p := &proc{addr: addr, out: &testenv.SyncBuffer{}, stop: stop, done: make(chan error, 1)}
	go func() { p.done <- realMain(ctx, append([]string{"--listen", listen}, args...), environ(env), p.out) }()
	t.Cleanup(func() {
		stop()
		<-p.done
		if t.Failed() {
			t.Logf("loadsvc output:\n%s", p.out.String())
		}
	})
	p.conn, p.client = dial(t, addr, opts...)
	testenv.WaitServing(t, p.conn, "", p.done, p.out)
	return p
}

// dial is a client connection to addr that sends large messages, in
// plaintext unless opts give other credentials.
func dial(t *testing.T, addr string, opts ...grpc.DialOption) (*grpc.ClientConn, loadsvcv1.LoadServiceClient) {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(256 << 20))}, opts...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, loadsvcv1.NewLoadServiceClient(conn)
}

// waitHealth waits up to 10 s for service to report want.
func waitHealth(t *testing.T, p *proc, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := healthpb.NewHealthClient(p.conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		if err == nil && resp.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %q: %v %v, want %s", service, resp, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsonRows(t *testing.T, first, n int) []*structpb.Struct {
	t.Helper()
	out := make([]*structpb.Struct, n)
	for i := range out {
		s, err := structpb.NewStruct(map[string]any{"id": first + i, "plan_code": fmt.Sprintf("P%06d", first+i), "nav": 1.2345, "note": "some text of a realistic length for a row"})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

func adminExec(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// waitSession waits until a session of the database at url other than the
// caller's matches where, a condition on pg_stat_activity; what names that
// moment, for the failure.
func waitSession(t *testing.T, url, where, what string) {
	t.Helper()
	testenv.WaitUntil(t, 20*time.Second, what, func() bool {
		return adminCount(t, url, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND `+where) > 0
	})
}

func adminCount(t *testing.T, url, sql string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

const tableDDL = `CREATE TABLE t (id int PRIMARY KEY, plan_code text, nav numeric(18,4), note text)`

// The service starts while its database is down: health serves, plans work
// and loads answer UNAVAILABLE.
func TestStartsWithDatabaseDown(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--database-url", "postgres://loader:hunter2secret@127.0.0.1:1/db?sslmode=disable")
	plan, err := p.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true}, Rows: jsonRows(t, 0, 2)})
	if err != nil || !strings.Contains(plan.SqlScript, "COPY") {
		t.Fatalf("plan: %v %v", plan, err)
	}
	_, err = p.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, 0, 2)})
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.HasPrefix(st.Message(), "database connection failed: ") {
		t.Fatalf("load: %v", err)
	}
	waitHealth(t, p, "loadsvc.v1.LoadService", healthpb.HealthCheckResponse_NOT_SERVING)
	waitHealth(t, p, "", healthpb.HealthCheckResponse_SERVING)
	if strings.Contains(p.out.String(), "hunter2secret") {
		t.Errorf("the password reached the log:\n%s", p.out.String())
	}
	if !strings.Contains(p.out.String(), "xxxxx") {
		t.Errorf("the log does not show the redacted URL:\n%s", p.out.String())
	}
}

// Without any database configured the service still starts; loads say why
// they cannot run.
func TestNoDatabaseConfigured(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	_, err := p.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, 0, 1)})
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.HasPrefix(st.Message(), "database connection failed: no database configured") {
		t.Fatalf("load: %v", err)
	}
}

// A malformed URL stops the service at start with a clear message that
// does not carry the password.
func TestMalformedURLStops(t *testing.T) {
	t.Parallel()
	for _, env := range [][]string{
		{"LOADSVC_DATABASE_URL=postgres://loader:hunter2secret@localhost:notaport/db"},
		{"DATABASE_URL=postgres://loader:hunter2secret@localhost:99999999/db"},
	} {
		out := &testenv.SyncBuffer{}
		err := realMain(context.Background(), []string{"--listen", testenv.FreeAddr(t)}, environ(env), out)
		if err == nil {
			t.Fatalf("%v: started:\n%s", env, out)
		}
		if all := err.Error() + out.String(); !strings.Contains(all, "invalid database URL") || strings.Contains(all, "hunter2secret") {
			t.Errorf("%v: error %v, output:\n%s", env, err, out)
		}
	}
}

// Reflection and the health service are served; the database URL is taken
// from DATABASE_URL; a 20,000-row JSON request fits the default limit.
func TestServesReflectionHealthAndLargeRequests(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	adminExec(t, url, tableDDL)
	p := start(t, []string{"DATABASE_URL=" + url})

	waitHealth(t, p, "", healthpb.HealthCheckResponse_SERVING)
	waitHealth(t, p, "loadsvc.v1.LoadService", healthpb.HealthCheckResponse_SERVING)
	rs, err := reflectpb.NewServerReflectionClient(p.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	msg, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.String(), "loadsvc.v1.LoadService") {
		t.Errorf("reflection lists %v", msg)
	}
	if err := rs.CloseSend(); err != nil {
		t.Errorf("closing the reflection stream: %v", err)
	}

	resp, err := p.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, 0, 20000)})
	if err != nil || resp.Inserted != 20000 {
		t.Fatalf("20,000 rows: %v %v", resp, err)
	}
	if n := adminCount(t, url, `SELECT count(*) FROM t`); n != 20000 {
		t.Errorf("table has %d rows", n)
	}
}

// Shutdown (SIGTERM; here the end of realMain's context): health turns NOT_SERVING, the in-flight load finishes within the
// shutdown timeout, and the process exits 0; with a short timeout the load
// is cancelled and rolled back instead.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		timeout string
		want    int64
	}{{"30s", 300}, {"300ms", 0}} {
		t.Run(tc.timeout, func(t *testing.T) {
			t.Parallel()
			url := cluster.NewDatabase(t)
			adminExec(t, url, tableDDL+`;
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN NEW; END $$;
CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow();`)
			p := start(t, []string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_SHUTDOWN_TIMEOUT=" + tc.timeout})
			loadErr := make(chan error, 1)
			go func() {
				_, err := p.client.Load(context.Background(), &loadsvcv1.LoadRequest{
					Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, 0, 300)})
				loadErr <- err
			}()
			watch, err := healthpb.NewHealthClient(p.conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if first, err := watch.Recv(); err != nil || first.Status != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("health before SIGTERM: %v %v", first, err)
			}
			waitSession(t, url, "wait_event = 'PgSleep'", "the load is in its slow INSERT")
			p.stop()
			if next, err := watch.Recv(); err != nil || next.Status != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Errorf("health after SIGTERM: %v %v", next, err)
			}
			select {
			case err := <-p.done:
				p.done <- err // for the cleanup
				if err != nil {
					t.Errorf("realMain: %v", err)
				}
			case <-time.After(40 * time.Second):
				t.Fatal("realMain did not return")
			}
			err = <-loadErr
			if tc.want > 0 && err != nil {
				t.Errorf("in-flight load: %v", err)
			}
			if tc.want == 0 && err == nil {
				t.Errorf("in-flight load succeeded despite the short shutdown timeout")
			}
			deadline := time.Now().Add(10 * time.Second)
			for adminCount(t, url, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`) > 0 {
				if time.Now().After(deadline) {
					t.Fatal("backends still running after exit")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if n := adminCount(t, url, `SELECT count(*) FROM t`); n != tc.want {
				t.Errorf("table has %d rows, want %d", n, tc.want)
			}
			if !strings.Contains(p.out.String(), "shutting down") {
				t.Errorf("no shutdown log line:\n%s", p.out.String())
			}
		})
	}
}
