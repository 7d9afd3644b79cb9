package pgbouncer

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// poolMaxConns is the service's pgx pool size: three times PgBouncer's
// server pool, so pgx connections share server connections.
const poolMaxConns = 3 * serverPoolSize

// directApp is the application_name of the tests' own direct connections,
// told apart from PgBouncer's server connections in pg_stat_activity.
const directApp = "pgbouncer-test-direct"

// variant is one way of writing the service's URL.
type variant struct {
	name  string
	query string // URL parameters beyond the pool size
}

// variants: no setting at all, and the one often advised for PgBouncer.
var variants = []variant{
	{name: "default_exec_mode"},
	{name: "exec_mode_exec", query: "default_query_exec_mode=exec"},
}

// forVariants runs f as a parallel subtest for each variant.
func forVariants(t *testing.T, f func(t *testing.T, v variant)) {
	t.Helper()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			f(t, v)
		})
	}
}

// env is one test's database, reached directly and through PgBouncer.
type env struct {
	dbURL  string        // the database's own URL, straight to the cluster
	url    string        // the service's URL, through PgBouncer
	direct *pgxpool.Pool // straight to the cluster: setup and checks
	pool   *pgxpool.Pool // the service's pool, through PgBouncer
	client loadsvcv1.LoadServiceClient
}

// setup makes a fresh database and serves loadsvc on it through PgBouncer;
// opts adjust the service's Executor.
func setup(t *testing.T, v variant, opts ...func(*pgexec.Executor)) *env {
	t.Helper()
	return setupOn(t, v, cluster.NewDatabase(t), opts...)
}

// setupOn serves loadsvc through PgBouncer on the database of directURL.
func setupOn(t *testing.T, v variant, directURL string, opts ...func(*pgexec.Executor)) *env {
	t.Helper()
	e := &env{dbURL: directURL, url: bouncerURL(t, directURL, "pool_max_conns="+strconv.Itoa(poolMaxConns), v.query)}
	s := testenv.New(t, cluster,
		testenv.Database(directURL),
		testenv.AdminPool(func(cfg *pgxpool.Config) {
			cfg.MaxConns = 2
			cfg.ConnConfig.RuntimeParams["application_name"] = directApp
		}),
		testenv.ServiceURL(e.url),
		testenv.MaxConns(poolMaxConns),
		testenv.ConnectTimeout(5*time.Second),
		testenv.Executor(func(x *pgexec.Executor) {
			x.AcquireTimeout, x.StatementTimeout, x.LockTimeout = 20*time.Second, 15*time.Minute, time.Minute
			for _, o := range opts {
				o(x)
			}
		}))
	e.direct, e.pool, e.client = s.Admin, s.Pool, s.Client
	return e
}

// bouncerURL is directURL with PgBouncer's address and the params added.
func bouncerURL(t *testing.T, directURL string, params ...string) string {
	t.Helper()
	u, err := url.Parse(directURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = pgb.addr()
	for _, p := range params {
		if p != "" {
			u.RawQuery += "&" + p
		}
	}
	return u.String()
}

func connectDirect(ctx context.Context, directURL string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(directURL)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = directApp
	return pgx.ConnectConfig(ctx, cfg)
}

// exec runs setup SQL directly on the test's database.
func (e *env) exec(t *testing.T, sql string) {
	t.Helper()
	if _, err := e.direct.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// count returns the result of a count query run directly.
func (e *env) count(t *testing.T, sql string) int64 {
	t.Helper()
	var n int64
	if err := e.direct.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// content renders the (id, a, b) rows of table in order, NULL as "-".
func (e *env) content(t *testing.T, table string) string {
	t.Helper()
	var s string
	err := e.direct.QueryRow(context.Background(), `SELECT coalesce(string_agg(concat_ws(',', id, coalesce(a, '-'), coalesce(b::text, '-')), ' ' ORDER BY id, a, b), '') FROM `+
		pgx.Identifier{table}.Sanitize()).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clean asserts, on the cluster itself, that no backend of the test's
// database is in a transaction (idle in transaction or still running) and
// that no TEMP table exists, and that the service's pool has nothing
// acquired; it waits a few seconds for a cancelled backend to finish.
func (e *env) clean(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND (state <> 'idle' OR xact_start IS NOT NULL)`)
		temp := e.count(t, `SELECT count(*) FROM pg_class WHERE relpersistence = 't'`)
		acquired := e.pool.Stat().AcquiredConns()
		if busy == 0 && temp == 0 && acquired == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database not clean: %d backends in a transaction (%s), %d TEMP tables, %d acquired pgx conns",
				busy, e.states(t), temp, acquired)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// states lists the backends' states, for a failure message.
func (e *env) states(t *testing.T) string {
	t.Helper()
	var s string
	err := e.direct.QueryRow(context.Background(), `SELECT coalesce(string_agg(state || ': ' || left(query, 60), '; '), '') FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`).Scan(&s)
	if err != nil {
		return err.Error()
	}
	return s
}

// serverConns counts the cluster's backends on the test's database that are
// not the tests' own: PgBouncer's server connections.
func (e *env) serverConns(ctx context.Context) (int64, error) {
	var n int64
	err := e.direct.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND application_name <> $1`, directApp).Scan(&n)
	return n, err
}

// rows builds JSON rows from Go maps.
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

// addRows appends maps to req's JSON rows.
func addRows(req *loadsvcv1.LoadRequest, maps []map[string]any) error {
	for _, m := range maps {
		s, err := structpb.NewStruct(m)
		if err != nil {
			return err
		}
		req.Rows = append(req.Rows, s)
	}
	return nil
}

// seqRows builds n rows {id: first+i, a: "<tag><i>"}.
func seqRows(t *testing.T, first, n int, tag string) []*structpb.Struct {
	t.Helper()
	maps := make([]map[string]any, n)
	for i := range maps {
		maps[i] = map[string]any{"id": first + i, "a": tag + strconv.Itoa(first+i)}
	}
	return rows(t, maps...)
}

// typedIDs is a stream message of typed rows {id: first+i, a: "a<i>"}.
func typedIDs(first, n int) *loadsvcv1.LoadStreamRequest {
	ids := make([]int64, n)
	vs := make([]string, n)
	for i := range ids {
		ids[i] = int64(first + i)
		vs[i] = "a" + strconv.Itoa(first+i)
	}
	return &loadsvcv1.LoadStreamRequest{TypedRows: &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{
		{Name: "id", Int64S: ids}, {Name: "a", Texts: vs}}}}
}

// send streams cfg and then each message, and returns the response.
func send(ctx context.Context, c loadsvcv1.LoadServiceClient, cfg *loadsvcv1.LoadConfig, msgs ...*loadsvcv1.LoadStreamRequest) (*loadsvcv1.LoadResponse, error) {
	st, err := c.LoadStream(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(&loadsvcv1.LoadStreamRequest{Config: cfg}); err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if err := st.Send(m); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	return st.CloseAndRecv()
}

// wantCode fails unless err is a status with code and a message starting
// with prefix.
func wantCode(t *testing.T, err error, code codes.Code, prefix string) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a status", err)
	}
	if st.Code() != code || !strings.HasPrefix(st.Message(), prefix) {
		t.Fatalf("got %s %q, want %s with message starting %q", st.Code(), st.Message(), code, prefix)
	}
	return st
}

// sqlstate is the SQLSTATE of a LOAD_FAILED status.
func sqlstate(st *status.Status) string {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetMetadata()["sqlstate"]
		}
	}
	return ""
}
