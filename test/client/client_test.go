package client_test

import (
	"context"
	"github.com/loadsvc/loadsvc/client"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// TestLoadRetriesUntilTheDatabaseIsBack runs a service whose database (a
// cluster of its own) is stopped: Load retries on UNAVAILABLE and succeeds
// once the cluster is started again.
func TestLoadRetriesUntilTheDatabaseIsBack(t *testing.T) {
	t.Parallel()
	pg, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	e := setupURL(t, pg.NewDatabase(t))
	e.exec(t, "CREATE TABLE t (id int PRIMARY KEY, v text)")
	var a attempts
	c := e.dial(t, client.Options{
		Retry:       client.RetryPolicy{MaxAttempts: 100, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
		DialOptions: []grpc.DialOption{a.option()},
	})
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	var resp *loadsvcv1.LoadResponse
	loaded := make(chan error, 1)
	ctx := ctxTimeout(t, 30*time.Second)
	go func() {
		var err error
		resp, err = c.Load(ctx, appendT, []client.Row{{"id": 1, "v": "a"}, {"id": 2}})
		loaded <- err
	}()
	// Started again once the database's absence was seen, not after a while.
	testenv.WaitUntil(t, 20*time.Second, "an attempt failed while PostgreSQL is down", func() bool { return a.n.Load() > 0 })
	if err := pg.StartAgain(); err != nil {
		t.Fatal(err)
	}
	e.admin.Reset() // its sessions ended with the stop; pgxpool would use one unpinged within a second
	if err := <-loaded; err != nil {
		t.Fatalf("Load: %v (attempts %v)", err, a.seen())
	}
	seen := a.seen()
	if len(seen) < 2 || seen[len(seen)-1] != codes.OK {
		t.Fatalf("attempts ended %v; want some UNAVAILABLE ones, then OK", seen)
	}
	for _, code := range seen[:len(seen)-1] {
		if code != codes.Unavailable {
			t.Fatalf("attempts ended %v; want UNAVAILABLE before the OK", seen)
		}
	}
	if resp.GetInserted() != 2 || e.count(t, "SELECT count(*) FROM t") != 2 {
		t.Fatalf("inserted %d, table holds %d; want 2", resp.GetInserted(), e.count(t, "SELECT count(*) FROM t"))
	}
	t.Logf("%d attempts", len(seen))
}

func TestLoadGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	e := setupURL(t, "") // no database: every load is UNAVAILABLE
	var a attempts
	c := e.dial(t, client.Options{Retry: client.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond}, DialOptions: []grpc.DialOption{a.option()}})
	_, err := c.Load(ctxTimeout(t, 10*time.Second), appendT, []client.Row{{"id": 1}})
	got := wantError(t, err, codes.Unavailable)
	if got.Reason != "DATABASE_CONNECTION_FAILED" || !got.Retryable() || a.n.Load() != 3 {
		t.Fatalf("reason %q retryable %v after %d attempts; want DATABASE_CONNECTION_FAILED, true, 3", got.Reason, got.Retryable(), a.n.Load())
	}
}

func TestLoadStopsRetryingWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	e := setupURL(t, "")
	c := e.dial(t, client.Options{Retry: client.RetryPolicy{MaxAttempts: 1000, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}})
	began := time.Now()
	_, err := c.Load(ctxTimeout(t, 300*time.Millisecond), appendT, []client.Row{{"id": 1}})
	if e, ok := client.AsError(err); !ok || (e.Code != codes.Unavailable && e.Code != codes.DeadlineExceeded) {
		t.Fatalf("got %v; want the last attempt's UNAVAILABLE or DEADLINE_EXCEEDED", err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("Load took %v after its 300ms deadline", d)
	}
}

func TestLoadDoesNotRetryABadRequest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var a attempts
	c := e.dial(t, client.Options{Retry: client.RetryPolicy{InitialBackoff: time.Millisecond}, DialOptions: []grpc.DialOption{a.option()}})
	// delete_insert without pk
	_, err := c.Load(ctxTimeout(t, 10*time.Second), &loadsvcv1.LoadConfig{Table: "t"}, []client.Row{{"id": 1}})
	got := wantError(t, err, codes.InvalidArgument)
	if got.Field != "config.pk" || got.Row != -1 || got.Retryable() || a.n.Load() != 1 {
		t.Fatalf("field %q row %d retryable %v after %d attempts; want config.pk, -1, false, 1", got.Field, got.Row, got.Retryable(), a.n.Load())
	}
}

func TestLoadErrorsCarryTheDetails(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE t (id int PRIMARY KEY, v text)")
	c := e.dial(t, client.Options{})
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := c.Load(ctx, appendT, []client.Row{{"id": 1}}); err != nil {
		t.Fatal(err)
	}

	_, err := c.Load(ctx, appendT, []client.Row{{"id": 2}, {"id": 1}})
	dup := wantError(t, err, codes.AlreadyExists)
	if dup.Reason != "LOAD_FAILED" || dup.SQLState != "23505" || dup.Constraint != "t_pkey" || dup.Table != "t" ||
		dup.Detail != "Key (id)=(1) already exists." || dup.Retryable() {
		t.Fatalf("duplicate key: %+v", dup)
	}
	if !strings.HasPrefix(err.Error(), "loadsvc: AlreadyExists: load failed: duplicate key value") || status.Code(err) != codes.AlreadyExists {
		t.Fatalf("error text %q, status code %s", err, status.Code(err))
	}

	keyed := &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}
	_, err = c.Load(ctx, keyed, []client.Row{{"id": 3}, {"v": "no key"}})
	nokey := wantError(t, err, codes.InvalidArgument)
	if nokey.Field != "rows[1].id" || nokey.Row != 1 {
		t.Fatalf("row without key: field %q row %d; want rows[1].id, 1", nokey.Field, nokey.Row)
	}

	refusing := &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, Duplicates: loadsvcv1.Duplicates_DUPLICATES_REFUSE}
	_, err = c.Load(ctx, refusing, []client.Row{{"id": 3}, {"id": 4}, {"id": 3}})
	if twice := wantError(t, err, codes.InvalidArgument); twice.Row != 2 {
		t.Fatalf("duplicate key in the request: field %q row %d; want row 2", twice.Field, twice.Row)
	}

	_, err = c.Load(ctx, appendT, []client.Row{{"id": 5, "nope": 1}})
	if unknown := wantError(t, err, codes.InvalidArgument); unknown.Reason != "UNKNOWN_COLUMN" || unknown.Column != "nope" {
		t.Fatalf("unknown column: %+v", unknown)
	}
	if n := e.count(t, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("table holds %d rows after failed loads, want 1", n)
	}
}

func TestLoadSetsARequestID(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE t (id int PRIMARY KEY)")
	c := e.dial(t, client.Options{})
	ctx := ctxTimeout(t, 10*time.Second)
	for i := range 2 {
		if _, err := c.Load(ctx, appendT, []client.Row{{"id": i}}); err != nil {
			t.Fatal(err)
		}
	}
	if appendT.GetRequestId() != "" {
		t.Fatalf("Load changed the caller's config: request_id %q", appendT.GetRequestId())
	}
	own := &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, RequestId: "mine-1"}
	if _, err := c.Load(ctx, own, []client.Row{{"id": 2}}); err != nil {
		t.Fatal(err)
	}
	ids := e.requestIDs()
	if len(ids) != 3 || ids[0] == "" || ids[1] == "" || ids[0] == ids[1] || ids[2] != "mine-1" {
		t.Fatalf("request ids %q; want two different random ones, then mine-1", ids)
	}
	if len(ids[0]) != 36 || ids[0][14] != '4' {
		t.Fatalf("request id %q is not a UUID v4", ids[0])
	}
}

func TestTokenIsSentOnEveryRPC(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.dial(t, client.Options{Token: "x"})
	ctx := ctxTimeout(t, 10*time.Second)
	plan := &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, PlanOnly: true}
	if _, err := c.Load(ctx, plan, []client.Row{{"id": 1}}); err != nil {
		t.Fatal(err)
	}
	w, err := c.NewWriter(ctx, plan, client.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(client.Row{"id": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	auth := e.auth.Seen()
	if len(auth) != 4 { // Load, LoadStream, Health twice
		t.Fatalf("the server saw %d RPCs, want 4", len(auth))
	}
	for _, a := range auth {
		if a != "Bearer x" {
			t.Fatalf("authorization metadata %q, want \"Bearer x\"", auth)
		}
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.dial(t, client.Options{})
	ctx := ctxTimeout(t, 10*time.Second)
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	e.health.SetServingStatus(loadsvcv1.LoadService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	err := c.Health(ctx)
	if got := wantError(t, err, codes.Unavailable); !strings.Contains(got.Message, "loadsvc.v1.LoadService is NOT_SERVING") {
		t.Fatalf("message %q", got.Message)
	}
}

// attempts is a client interceptor that counts Load calls and notes the
// code each one ended with.
type attempts struct {
	n     atomic.Int32
	mu    sync.Mutex
	codes []codes.Code
}

func (a *attempts) option() grpc.DialOption {
	return grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if method == loadsvcv1.LoadService_Load_FullMethodName {
			a.n.Add(1)
			a.mu.Lock()
			a.codes = append(a.codes, status.Code(err))
			a.mu.Unlock()
		}
		return err
	})
}

func (a *attempts) seen() []codes.Code {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]codes.Code(nil), a.codes...)
}

var appendT = &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}
