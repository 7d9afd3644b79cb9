package tracing

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// rowSecret is a row value that must never reach a span.
const rowSecret = "row-value-5be1d0"

// The caller's trace, sent as a W3C traceparent.
const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

// TestLoadSpans: a Load makes a server span that continues the caller's
// trace, the pgx statements of the load are spans under it, and no span
// carries a row value or the password; a health check makes none.
func TestLoadSpans(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := newTestTracing(t, exp)
	url := cluster.NewDatabase(t)
	pool := tracedPool(t, url, tr)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE nav (id int PRIMARY KEY, v text)`); err != nil {
		t.Fatal(err)
	}
	conn := serve(t, tr, pool)

	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	_, err := loadsvcv1.NewLoadServiceClient(conn).Load(ctx, &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "nav", Mode: loadsvcv1.Mode_MODE_APPEND},
		Rows:   rows(t, map[string]any{"id": 1, "v": rowSecret}, map[string]any{"id": 2}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	rpc := waitSpan(t, exp, "loadsvc.v1.LoadService/Load")
	if rpc.SpanKind != trace.SpanKindServer || rpc.SpanContext.TraceID().String() != callerTrace ||
		rpc.Parent.SpanID().String() != callerSpan {
		t.Errorf("server span %s kind %v trace %s parent %s; want a server span continuing %s/%s",
			rpc.Name, rpc.SpanKind, rpc.SpanContext.TraceID(), rpc.Parent.SpanID(), callerTrace, callerSpan)
	}
	spans := exp.GetSpans()
	for _, s := range spans {
		t.Logf("span %s %v under %s: %s", s.Name, s.SpanKind, s.Parent.SpanID(), attr(s, "db.query.text"))
	}
	checkChildren(t, spans, rpc)
	checkNoSecrets(t, spans, rowSecret, cluster.Password())
	for _, s := range spans {
		if strings.Contains(s.Name, "Health") {
			t.Errorf("health check traced: %s", s.Name)
		}
	}
}

// TestQuerySpan: a pgx query under a span of the caller's is a client span
// with the SQL text and without the arguments.
func TestQuerySpan(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := newTestTracing(t, exp)
	pool := tracedPool(t, cluster.NewDatabase(t), tr)
	ctx, parent := tr.tp.Tracer("test").Start(context.Background(), "parent")
	var got string
	if err := pool.QueryRow(ctx, "SELECT $1::text", rowSecret).Scan(&got); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var query *tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if attr(s, "db.query.text") == "SELECT $1::text" {
			query = &s
		}
	}
	if query == nil {
		t.Fatalf("no span with the query text among %v", names(exp.GetSpans()))
	}
	if query.SpanKind != trace.SpanKindClient || query.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("query span kind %v parent %s; want a client span under %s", query.SpanKind, query.Parent.SpanID(), parent.SpanContext().SpanID())
	}
	checkNoSecrets(t, exp.GetSpans(), rowSecret, cluster.Password())
}

// checkChildren fails unless spans under rpc include the load's statements.
func checkChildren(t *testing.T, spans tracetest.SpanStubs, rpc tracetest.SpanStub) {
	t.Helper()
	var sqls []string
	for _, s := range spans {
		if s.Parent.SpanID() == rpc.SpanContext.SpanID() && s.SpanContext.TraceID() == rpc.SpanContext.TraceID() {
			if q := attr(s, "db.query.text"); q != "" {
				sqls = append(sqls, q)
			}
		}
	}
	joined := strings.Join(sqls, "\n")
	for _, want := range []string{"BEGIN", "COMMIT"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %s among the statements under the Load span:\n%s", want, joined)
		}
	}
}

// checkNoSecrets fails when a span's name, attribute or event holds one of
// secrets.
func checkNoSecrets(t *testing.T, spans tracetest.SpanStubs, secrets ...string) {
	t.Helper()
	for _, s := range spans {
		texts := []string{s.Name, s.Status.Description}
		for _, a := range s.Attributes {
			texts = append(texts, a.Value.String())
		}
		for _, e := range s.Events {
			for _, a := range e.Attributes {
				texts = append(texts, a.Value.String())
			}
		}
		for _, text := range texts {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(text, secret) {
					t.Errorf("span %s holds a secret: %q", s.Name, text)
				}
			}
		}
	}
}

func newTestTracing(t *testing.T, exp sdktrace.SpanExporter) *Tracing {
	t.Helper()
	tr, err := newTracing(context.Background(), "loadsvc-test", sdktrace.WithSyncer(exp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

// tracedPool is a pool on url whose connections report to tr.
func tracedPool(t *testing.T, url string, tr *Tracing) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pgexec.ConfigurePool(cfg, 3*time.Second)
	cfg.ConnConfig.Tracer = tr.QueryTracer()
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// serve runs the load and health services, traced by tr, on a loopback
// port and returns a client connection.
func serve(t *testing.T, tr *Tracing, pool *pgxpool.Pool) *grpc.ClientConn {
	t.Helper()
	gs := grpc.NewServer(append(server.ServerOptions(zap.NewNop()), tr.ServerOption())...)
	server.Register(gs, server.New(&pgexec.Executor{Pool: pool, AcquireTimeout: 5 * time.Second}, server.Options{}))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	return testenv.ServeGRPC(t, gs)
}

// waitSpan waits for the ended span named name: a server span ends after
// the client has its answer.
func waitSpan(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range exp.GetSpans() {
			if s.Name == name {
				return s
			}
		}
	}
	t.Fatalf("no span %s among %v", name, names(exp.GetSpans()))
	return tracetest.SpanStub{}
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

func names(spans tracetest.SpanStubs) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

func rows(t *testing.T, maps ...map[string]any) []*structpb.Struct {
	t.Helper()
	out := make([]*structpb.Struct, len(maps))
	for i, m := range maps {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}
