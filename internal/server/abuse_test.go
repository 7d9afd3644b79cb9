package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Idle streams cannot starve the pool: with a pool of two and a 3 s idle
// timeout, two streams that send one row and then nothing end with
// DEADLINE_EXCEEDED naming the timeout, write nothing and give their
// connections back, and a normal load made meanwhile succeeds.
func TestIdleStreamsEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, withMaxConns(2), withServer(func(o *server.Options) { o.StreamIdleTimeout = 3 * time.Second }))
	b.exec1(t, `CREATE TABLE t (id bigint PRIMARY KEY, v text)`)
	b.exec1(t, `CREATE TABLE other (id bigint, v text)`)
	ended := make(chan error, 2)
	for i := range 2 {
		st, err := b.client.LoadStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&loadsvcv1.LoadStreamRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_REPLACE}}); err != nil {
			t.Fatal(err)
		}
		if err := st.Send(typedIDs(i*10, 1)); err != nil {
			t.Fatal(err)
		}
		go func() { // then nothing, not even a close: wait for the server
			ended <- st.RecvMsg(new(loadsvcv1.LoadResponse))
		}()
	}
	b.wantStreamsEnded(t, ended, "the stream sent no message for 3s, the idle timeout (LOADSVC_STREAM_IDLE_TIMEOUT)")
}

// wantStreamsEnded holds the server to ending the two streams that hold
// the pool's two connections, and reports on ended: a load waits for a
// connection until then and gets one, the streams end with
// DEADLINE_EXCEEDED and want, t stays empty and the pool clean.
func (b *bundle) wantStreamsEnded(t *testing.T, ended <-chan error, want string) {
	t.Helper()
	testenv.WaitUntil(t, 20*time.Second, "both streams hold their connection", func() bool { return b.pool.Stat().AcquiredConns() == 2 })
	resp, err := b.client.Load(ctxTimeout(t, 20*time.Second), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "other", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: seqRows(t, 0, 3)})
	if err != nil || resp.Inserted != 3 {
		t.Fatalf("a load while two streams hold the pool: %v %v", resp, err)
	}
	for range 2 {
		select {
		case err := <-ended:
			wantCode(t, err, codes.DeadlineExceeded, want)
		case <-time.After(15 * time.Second):
			t.Fatal("a stream was not ended")
		}
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("the ended streams wrote %d rows", n)
	}
	b.clean(t)
}

// The exactly-once ledger, the session tables and the load history are
// never a load target, with or without their schema, before any
// connection.
func TestLedgerIsNoTarget(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB())
	for table, what := range map[string]string{"load_ledger": "loadsvc's exactly-once ledger", "load_sessions": "one of loadsvc's load session tables",
		"load_session_writers": "one of loadsvc's load session tables", "load_history": "loadsvc's load history"} {
		for _, schema := range []string{"loadsvc", ""} {
			_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
				Config: &loadsvcv1.LoadConfig{Schema: schema, Table: table, Mode: loadsvcv1.Mode_MODE_REPLACE},
				Rows:   rows(t, map[string]any{"request_id": "forged", "target": "t", "mode": "append", "digest": "x", "result": "{}"})})
			target := `"` + table + `"`
			if schema != "" {
				target = `"` + schema + `".` + target
			}
			wantCode(t, err, codes.PermissionDenied, target+" is "+what+" and is never a load target")
		}
	}
}

// A request id belongs to its caller: the same id from another principal is
// another load, and a conflict names only the caller's own load.
func TestRequestIDsScopedByPrincipal(t *testing.T) {
	t.Parallel()
	b := setup(t, withServer(func(o *server.Options) {
		o.Principal = func(ctx context.Context) string { // as a token's name would
			md, _ := metadata.FromIncomingContext(ctx)
			return strings.Join(md.Get("x-test-principal"), "")
		}
	}))
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (id int, v text)`)
	load := func(who, table string) (*loadsvcv1.LoadResponse, error) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-test-principal", who)
		return b.client.Load(ctx, &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: table, Mode: loadsvcv1.Mode_MODE_APPEND, RequestId: "job-1"}, Rows: seqRows(t, 0, 2)})
	}
	if resp, err := load("alice", "t"); err != nil || resp.Replayed {
		t.Fatalf("alice: %v %v", resp, err)
	}
	if resp, err := load("bob", "u"); err != nil || resp.Replayed || resp.Inserted != 2 {
		t.Fatalf("bob's job-1 is his own load: %v %v", resp, err)
	}
	if resp, err := load("alice", "t"); err != nil || !resp.Replayed {
		t.Fatalf("alice's retry: %v %v", resp, err)
	}
	_, err := load("bob", "t")
	wantCode(t, err, codes.AlreadyExists, `request_id "job-1" was already used for table "u", not "t"`)
}

// A plan-only stream holds every message to the first one's columns by
// name and is bounded by bytes as well as rows.
func TestPlanStreamBounds(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB(), withServer(func(o *server.Options) { o.MaxPlanBytes = 4096 }))
	cfg := &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true}
	msg := func(maps ...map[string]any) *loadsvcv1.LoadStreamRequest {
		return &loadsvcv1.LoadStreamRequest{Rows: rows(t, maps...)}
	}
	// Another order of the same columns maps by name; a missing one is NULL.
	resp, err := send(context.Background(), t, b.client, cfg, msg(map[string]any{"id": 1, "v": "a"}), typedIDs(2, 1), msg(map[string]any{"id": 3}))
	if err != nil || resp.Rows != 3 || !strings.Contains(resp.SqlScript, "3\t\\N") {
		t.Fatalf("plan: %v %v", resp, err)
	}
	_, err = send(context.Background(), t, b.client, cfg, msg(map[string]any{"id": 1, "v": "a"}), msg(map[string]any{"id": 2, "w": "new"}))
	st := wantCode(t, err, codes.InvalidArgument, `row 1, column "w": the column is not among the columns of the load`)
	if f := badRequestField(t, st); f != "rows[1].w" {
		t.Errorf("field %q", f)
	}
	big := strings.Repeat("x", 3000)
	_, err = send(context.Background(), t, b.client, cfg, msg(map[string]any{"id": 1, "v": big}), msg(map[string]any{"id": 2, "v": big}))
	wantCode(t, err, codes.ResourceExhausted, "a plan-only stream is held in memory and may carry at most 4096 bytes")
}

// Rows that carry no column are refused, naming the first, even for a
// table that does not exist — never an OK that wrote nothing.
func TestRowsWithoutColumnsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id bigint, v text)`)
	empty := []*structpb.Struct{{}, {}, {}}
	_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "no_such_table", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: empty})
	st := wantCode(t, err, codes.InvalidArgument, "row 0 carries no column")
	if f := badRequestField(t, st); f != "rows[0]" {
		t.Errorf("field %q", f)
	}
	_, err = send(context.Background(), t, b.client, &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}, typedIDs(0, 2), &loadsvcv1.LoadStreamRequest{Rows: empty})
	wantCode(t, err, codes.InvalidArgument, "row 2 carries no column")
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("a refused stream wrote %d rows", n)
	}
}

// Row values quoted in errors — PostgreSQL's message and detail, and the
// service's own duplicate-key refusal — are capped at 64 bytes, marked as
// cut.
func TestQuotedValuesCapped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE c (k text PRIMARY KEY, n int)`)
	long := strings.Repeat("秘", 4000) // 12,000 bytes
	b.exec1(t, `INSERT INTO c VALUES ($1, 1)`, long)
	load := func(cfg *loadsvcv1.LoadConfig, maps ...map[string]any) error {
		_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: rows(t, maps...)})
		return err
	}
	appendCfg := &loadsvcv1.LoadConfig{Table: "c", Mode: loadsvcv1.Mode_MODE_APPEND}
	for _, err := range []error{
		load(appendCfg, map[string]any{"k": long}),           // 23505, detail quotes the key
		load(appendCfg, map[string]any{"k": "x", "n": long}), // 22P02, message quotes the value
		load(&loadsvcv1.LoadConfig{Table: "c", Pk: []string{"k"}, Duplicates: loadsvcv1.Duplicates_DUPLICATES_REFUSE},
			map[string]any{"k": long}, map[string]any{"k": long}), // the service's own refusal
	} {
		st := wantCode(t, err, status.Code(err), "")
		text := st.Message()
		for _, d := range st.Details() {
			if ei, ok := d.(*errdetails.ErrorInfo); ok {
				text += " " + ei.GetMetadata()["detail"]
			}
		}
		if strings.Contains(text, long[:300]) || !strings.Contains(text, "(12000 bytes, cut)") {
			t.Errorf("%s: the value is not capped: %.300s", status.Code(err), text)
		}
	}
}

// The server-wide budget of bytes held decoded refuses a message larger
// than the whole budget, naming it.
func TestInflightBudget(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB(), withServer(func(o *server.Options) { o.MaxInflightBytes = 1000 }))
	_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, PlanOnly: true}, Rows: seqRows(t, 0, 200)})
	wantCode(t, err, codes.ResourceExhausted, "the request needs ")
	if !strings.Contains(err.Error(), "LOADSVC_MAX_INFLIGHT_BYTES") {
		t.Errorf("%v does not name the budget", err)
	}
}

// A unary request is decoded whole before its load takes a connection, so
// a bad row anywhere in it is refused first: with no database at all, the
// answer names the row, never UNAVAILABLE.
func TestBadLateRowRefusedBeforeConnecting(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB())
	for _, c := range []struct {
		row  map[string]any
		want string
	}{
		{map[string]any{"id": 2500, "v": "a\x00b"}, "row 2500, column \"v\": text holds a NUL byte"},
		{map[string]any{"v": "no key"}, "row 2500 has no value for key column \"id\" (missing or null)"},
		{map[string]any{"id": nil, "v": "null key"}, "row 2500 has no value for key column \"id\" (missing or null)"},
	} {
		req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: seqRows(t, 0, 3000)}
		req.Rows[2500] = rows(t, c.row)[0]
		_, err := b.client.Load(context.Background(), req)
		wantCode(t, err, codes.InvalidArgument, c.want)
	}
}
