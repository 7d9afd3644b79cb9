package client_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// fastRetry retries at once, so that tests of retried calls take no time
// waiting.
var fastRetry = client.RetryPolicy{InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}

// fault is what goes wrong with one call: the call never reaches the
// service (before), or the service runs it and its answer is lost on the
// way back; either way the client sees code.
type fault struct {
	code   codes.Code
	before bool
}

// faults injects faults into one method's calls of a Client, by the
// call's number (from 1), and counts the calls.
type faults struct {
	method string
	at     map[int]fault

	mu    sync.Mutex
	calls int
}

// dial returns a Client of e's service whose calls of f.method meet f.
func (f *faults) dial(t *testing.T, e *env) *client.Client {
	t.Helper()
	return e.dial(t, client.Options{Retry: fastRetry, DialOptions: []grpc.DialOption{grpc.WithUnaryInterceptor(f.intercept)}})
}

func (f *faults) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if method != f.method {
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	f.mu.Lock()
	f.calls++
	ft, ok := f.at[f.calls]
	f.mu.Unlock()
	if ok && ft.before {
		return status.Error(ft.code, "injected: the call never reached the service")
	}
	err := invoke(ctx, method, req, reply, cc, opts...)
	if ok && err == nil {
		return status.Error(ft.code, "injected: the service's answer was lost")
	}
	return err
}

func (f *faults) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// idRows are rows id first to first+n-1 of writer.
func idRows(writer string, first, n int64) []client.Row {
	rows := make([]client.Row, n)
	for i := range rows {
		rows[i] = client.Row{"id": first + int64(i), "writer": writer}
	}
	return rows
}

// appendFrom appends writer's rows from its session's next offset up to
// total in batches of batch rows, rows of writer k having ids k*total on;
// it stops at the first error.
func appendFrom(ctx context.Context, s *client.Session, writer string, k, total, batch int64) error {
	for off := s.NextOffset(writer); off < total; off = s.NextOffset(writer) {
		if _, err := s.Append(ctx, writer, idRows(writer, k*total+off, min(batch, total-off))); err != nil {
			return err
		}
	}
	return nil
}

func beginAppend(t *testing.T, ctx context.Context, c *client.Client, table string) *client.Session {
	t.Helper()
	s, err := c.BeginLoad(ctx, &loadsvcv1.LoadConfig{Table: table, Mode: loadsvcv1.Mode_MODE_APPEND}, client.WithTTL(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSessionFourWritersOneResumes appends 4 writers' rows in parallel;
// the worker of part-3 dies after the service stored its fifth batch but
// before it saw the answer, and a new worker (a client of its own, as a
// new process) attaches, learns from GetLoadSession that five batches are
// stored, and appends the rest. One commit writes every row exactly once.
func TestSessionFourWritersOneResumes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, writer text NOT NULL)")
	ctx := ctxTimeout(t, 60*time.Second)
	const total, batch = 1000, 100
	c := e.dial(t, client.Options{Retry: fastRetry})
	s := beginAppend(t, ctx, c, "t")

	dying := &faults{method: loadsvcv1.LoadService_AppendRows_FullMethodName, at: map[int]fault{5: {code: codes.Canceled}}}
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for k := range int64(4) {
		wg.Go(func() {
			ws := s
			if k == 3 {
				var err error
				if ws, err = dying.dial(t, e).Attach(ctx, s.ID()); err != nil {
					errs[k] = err
					return
				}
			}
			errs[k] = appendFrom(ctx, ws, fmt.Sprintf("part-%d", k), k, total, batch)
		})
	}
	wg.Wait()
	for k, err := range errs[:3] {
		if err != nil {
			t.Fatalf("part-%d: %v", k, err)
		}
	}
	wantError(t, errs[3], codes.Canceled)
	if got := dying.count(); got != 5 {
		t.Fatalf("the dying worker made %d AppendRows calls, want 5", got)
	}
	got, err := s.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"part-0": total, "part-1": total, "part-2": total, "part-3": 5 * batch}
	if !maps.Equal(got.GetCommitted(), want) || got.GetRows() != 3*total+5*batch {
		t.Fatalf("the session has writers %v and %d rows, want %v and %d", got.GetCommitted(), got.GetRows(), want, 3*total+5*batch)
	}

	resumed, err := e.dial(t, client.Options{Retry: fastRetry}).Attach(ctx, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	if n := resumed.NextOffset("part-3"); n != 5*batch {
		t.Fatalf("attached, part-3 resumes at %d, want %d", n, 5*batch)
	}
	if err := appendFrom(ctx, resumed, "part-3", 3, total, batch); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetInserted() != 4*total {
		t.Fatalf("the commit inserted %d rows, want %d", resp.GetInserted(), 4*total)
	}
	if got := e.texts(t, "SELECT concat_ws(' ', count(*), count(DISTINCT id), min(id), max(id), count(DISTINCT writer)) FROM t"); got[0] != "4000 4000 0 3999 4" {
		t.Fatalf("the table holds (rows, ids, min, max, writers) %s, want 4000 4000 0 3999 4", got[0])
	}
}

// TestSessionResentBatch sends batches again, as a retry after a lost
// answer does: the service acknowledges a batch it stored already with 0
// rows and stores it once. A batch that straddles the stored offset and a
// gap are refused, naming the offset the writer is at. After a failed
// Append, the same rows again are a retry at the same offset, and other
// rows go where the service says the writer is, whether the failed batch
// was stored or not.
func TestSessionResentBatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, writer text NOT NULL)")
	ctx := ctxTimeout(t, 60*time.Second)
	f := &faults{method: loadsvcv1.LoadService_AppendRows_FullMethodName, at: map[int]fault{
		1: {code: codes.Unavailable},             // retried at once, at the same offset
		3: {code: codes.Canceled},                // stored, the worker gives up: the same rows again
		5: {code: codes.Canceled},                // stored, the worker gives up: other rows next
		7: {code: codes.Canceled, before: true}}} // not stored: other rows next
	c := f.dial(t, e)
	s := beginAppend(t, ctx, c, "t")

	resp, err := s.Append(ctx, "w", idRows("w", 0, 100)) // calls 1 (answer lost) and 2 (the retry)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetRows() != 0 || resp.GetNextOffset() != 100 || s.NextOffset("w") != 100 {
		t.Fatalf("the retry of a stored batch: rows %d, next offset %d (session %d); want 0, 100, 100", resp.GetRows(), resp.GetNextOffset(), s.NextOffset("w"))
	}

	raw := e.dial(t, client.Options{}).Service() // calls of its own, not counted by f
	typed := func(first int64, n int) *loadsvcv1.TypedRows {
		ids := make([]int64, n)
		ws := make([]string, n)
		for i := range ids {
			ids[i], ws[i] = first+int64(i), "w"
		}
		return &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{{Name: "id", Int64S: ids}, {Name: "writer", Texts: ws}}}
	}
	again, err := raw.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.ID(), Writer: "w", Offset: 0, TypedRows: typed(0, 100)})
	if err != nil {
		t.Fatal(err)
	}
	if again.GetRows() != 0 || again.GetNextOffset() != 100 {
		t.Fatalf("a resent batch: rows %d, next offset %d; want 0 and 100", again.GetRows(), again.GetNextOffset())
	}
	_, err = raw.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.ID(), Writer: "w", Offset: 50, TypedRows: typed(50, 100)})
	if e := wantError(t, err, codes.FailedPrecondition); !strings.Contains(e.Message, "100") {
		t.Fatalf("a straddling batch's refusal does not name the next offset 100: %s", e.Message)
	}
	_, err = raw.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.ID(), Writer: "w", Offset: 300, TypedRows: typed(300, 10)})
	if e := wantError(t, err, codes.OutOfRange); !strings.Contains(e.Message, "100") {
		t.Fatalf("a gap's refusal does not name the expected offset 100: %s", e.Message)
	}

	_, err = s.Append(ctx, "w", idRows("w", 100, 100)) // call 3: stored, answer lost
	wantError(t, err, codes.Canceled)
	if s.NextOffset("w") != 100 {
		t.Fatalf("after a failed Append the writer is at %d, want 100 (unchanged)", s.NextOffset("w"))
	}
	resp, err = s.Append(ctx, "w", idRows("w", 100, 100)) // call 4: the same rows, at 100 again
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetRows() != 0 || s.NextOffset("w") != 200 {
		t.Fatalf("the same rows after a failure: rows %d, writer at %d; want 0 (stored already) and 200", resp.GetRows(), s.NextOffset("w"))
	}

	_, err = s.Append(ctx, "w", idRows("w", 200, 100)) // call 5: stored, answer lost
	wantError(t, err, codes.Canceled)
	if resp, err = s.Append(ctx, "w", idRows("w", 300, 50)); err != nil { // call 6, at 300
		t.Fatal(err)
	}
	if resp.GetRows() != 50 || s.NextOffset("w") != 350 {
		t.Fatalf("other rows after a stored failed batch: rows %d, writer at %d; want 50 and 350", resp.GetRows(), s.NextOffset("w"))
	}

	_, err = s.Append(ctx, "w", idRows("w", 1000, 100)) // call 7: never sent
	wantError(t, err, codes.Canceled)
	if resp, err = s.Append(ctx, "w", idRows("w", 350, 10)); err != nil { // call 8, at 350
		t.Fatal(err)
	}
	if resp.GetRows() != 10 || s.NextOffset("w") != 360 {
		t.Fatalf("other rows after an unsent failed batch: rows %d, writer at %d; want 10 and 360", resp.GetRows(), s.NextOffset("w"))
	}

	_, err = s.Append(ctx, "w", []client.Row{{"id": make(chan int)}})
	if e := wantError(t, err, codes.InvalidArgument); e.Row != 0 {
		t.Fatalf("a value the client cannot send names row %d, want 0", e.Row)
	}
	if got := f.count(); got != 8 {
		t.Fatalf("%d AppendRows calls, want 8", got)
	}
	if _, err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.texts(t, "SELECT concat_ws(' ', count(*), count(DISTINCT id), min(id), max(id)) FROM t"); got[0] != "360 360 0 359" {
		t.Fatalf("the table holds (rows, ids, min, max) %s, want 360 360 0 359", got[0])
	}
}

// TestSessionCommitRetried loses the answer of a CommitLoad: the client
// sends it again and the service answers with the same result, having
// applied the rows once. A later Commit, and the committed session seen
// from another client, give that result too; the session takes no more
// rows.
func TestSessionCommitRetried(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, writer text NOT NULL)")
	ctx := ctxTimeout(t, 60*time.Second)
	f := &faults{method: loadsvcv1.LoadService_CommitLoad_FullMethodName, at: map[int]fault{1: {code: codes.Unavailable}}}
	s := beginAppend(t, ctx, f.dial(t, e), "t")
	for _, w := range []string{"a", "b"} {
		if _, err := s.Append(ctx, w, idRows(w, map[string]int64{"a": 0, "b": 1000}[w], 300)); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := s.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.count() != 2 || resp.GetInserted() != 600 {
		t.Fatalf("%d CommitLoad calls inserted %d rows; want 2 calls (one answer lost) and 600", f.count(), resp.GetInserted())
	}
	again, err := s.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.dial(t, client.Options{}).Attach(ctx, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	got, err := other.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again, resp) || !proto.Equal(got.GetResult(), resp) || got.GetState() != loadsvcv1.SessionState_SESSION_STATE_COMMITTED {
		t.Fatalf("results differ: first %v, again %v, session (%s) %v", resp, again, got.GetState(), got.GetResult())
	}
	_, err = s.Append(ctx, "a", idRows("a", 300, 1))
	wantError(t, err, codes.FailedPrecondition)
	if n := e.count(t, "SELECT count(*) FROM t"); n != 600 {
		t.Fatalf("the table holds %d rows, want 600", n)
	}
}

// TestSessionAbortLeavesNothing aborts a session with rows of two
// writers, losing the first AbortLoad's answer: the retry finds the
// session gone and Abort succeeds. The table, the sessions' tables and the
// stages' schema hold nothing of it, and the session is gone.
func TestSessionAbortLeavesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, writer text NOT NULL)")
	ctx := ctxTimeout(t, 60*time.Second)
	f := &faults{method: loadsvcv1.LoadService_AbortLoad_FullMethodName, at: map[int]fault{1: {code: codes.Unavailable}}}
	c := f.dial(t, e)
	s := beginAppend(t, ctx, c, "t")
	for k, w := range []string{"a", "b"} {
		if _, err := s.Append(ctx, w, idRows(w, int64(k)*1000, 200)); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM pg_tables WHERE schemaname = 'loadsvc_stage'"); n != 1 {
		t.Fatalf("%d stages before the abort, want 1", n)
	}
	if err := s.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if f.count() != 2 {
		t.Fatalf("%d AbortLoad calls, want 2 (the first answer lost)", f.count())
	}
	_, err := s.Get(ctx)
	wantError(t, err, codes.NotFound)
	_, err = c.Attach(ctx, s.ID())
	wantError(t, err, codes.NotFound)
	_, err = s.Append(ctx, "a", idRows("a", 200, 1))
	wantError(t, err, codes.NotFound)
	wantError(t, s.Abort(ctx), codes.NotFound)
	e.idle(t)
	for sql, want := range map[string]int64{
		"SELECT count(*) FROM t": 0,
		"SELECT count(*) FROM pg_tables WHERE schemaname = 'loadsvc_stage'": 0,
		"SELECT count(*) FROM loadsvc.load_sessions":                        0,
		"SELECT count(*) FROM loadsvc.load_session_writers":                 0,
	} {
		if n := e.count(t, sql); n != want {
			t.Errorf("%s: %d, want %d", sql, n, want)
		}
	}
}
