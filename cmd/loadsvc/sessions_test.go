package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// idRows are n rows {id, v} from first.
func idRows(t *testing.T, first, n int) []*structpb.Struct {
	t.Helper()
	out := make([]*structpb.Struct, n)
	for i := range out {
		s, err := structpb.NewStruct(map[string]any{"id": first + i, "v": "v"})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

func sessionDB(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	url := cluster.NewDatabase(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(context.Background(), `CREATE TABLE t (id int PRIMARY KEY, v text)`); err != nil {
		t.Fatal(err)
	}
	return url, conn
}

func countOf(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func appendOn(t *testing.T, c loadsvcv1.LoadServiceClient, id, writer string, offset, n int) {
	t.Helper()
	resp, err := c.AppendRows(context.Background(), &loadsvcv1.AppendRowsRequest{SessionId: id, Writer: writer, Offset: int64(offset), Rows: idRows(t, offset+1000*len(writer), n)})
	if err != nil || resp.NextOffset != int64(offset+n) {
		t.Fatalf("append of %s at %d: %v %v", writer, offset, resp, err)
	}
}

// Two service processes on one database serve one session: appends on
// either, the commit on the other; and a restart of a service between two
// appends loses nothing.
func TestSessionAcrossProcessesAndRestart(t *testing.T) {
	t.Parallel()
	url, conn := sessionDB(t)
	env := []string{"LOADSVC_DATABASE_URL=" + url}
	one, two := startBinary(t, env), startBinary(t, env)
	c1, c2 := loadsvcv1.NewLoadServiceClient(one.conn), loadsvcv1.NewLoadServiceClient(two.conn)
	s, err := c1.BeginLoad(context.Background(), &loadsvcv1.BeginLoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}})
	if err != nil {
		t.Fatal(err)
	}
	appendOn(t, c1, s.SessionId, "a", 0, 10)
	appendOn(t, c2, s.SessionId, "bb", 0, 10)
	appendOn(t, c1, s.SessionId, "bb", 10, 10)
	if err := one.Terminate(t, 20*time.Second); err != nil {
		t.Fatalf("the first service's exit: %v", err)
	}
	again := startBinary(t, env) // the first service, restarted
	c3 := loadsvcv1.NewLoadServiceClient(again.conn)
	got, err := c3.GetLoadSession(context.Background(), &loadsvcv1.GetLoadSessionRequest{SessionId: s.SessionId})
	if err != nil || got.Rows != 30 || got.Committed["a"] != 10 || got.Committed["bb"] != 20 {
		t.Fatalf("after the restart: %v %v", got, err)
	}
	appendOn(t, c3, s.SessionId, "a", 10, 5)
	if n := countOf(t, conn, `SELECT count(*) FROM t`); n != 0 {
		t.Fatalf("the table holds %d rows before the commit", n)
	}
	resp, err := c2.CommitLoad(context.Background(), &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	if err != nil || resp.Inserted != 35 {
		t.Fatalf("commit on the second service: %v %v", resp, err)
	}
	if n := countOf(t, conn, `SELECT count(*) FROM t`); n != 35 {
		t.Fatalf("the table holds %d rows, want 35", n)
	}
	retried, err := c3.CommitLoad(context.Background(), &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	if err != nil || retried.Inserted != 35 {
		t.Fatalf("the commit retried on the other service: %v %v", retried, err)
	}
}

// The service sweeps expired sessions every LOADSVC_SESSION_SWEEP_INTERVAL
// and leaves nothing of them; it stops its sweeper when it stops.
func TestSessionSweptByService(t *testing.T) {
	t.Parallel()
	url, conn := sessionDB(t)
	p := start(t, []string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_SESSION_SWEEP_INTERVAL=100ms"})
	s, err := p.client.BeginLoad(context.Background(), &loadsvcv1.BeginLoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Ttl: durationpb.New(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	appendOn(t, p.client, s.SessionId, "w", 0, 5)
	left := `SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'loadsvc_stage')
		+ (SELECT count(*) FROM loadsvc.load_sessions) + (SELECT count(*) FROM loadsvc.load_session_writers)`
	if n := countOf(t, conn, left); n != 3 {
		t.Fatalf("an open session holds %d things, want its stage, its row and its writer", n)
	}
	testenv.WaitUntil(t, 20*time.Second, "the expired session is swept", func() bool { return countOf(t, conn, left) == 0 })
	testenv.WaitUntil(t, 10*time.Second, "the sweep is logged", func() bool {
		return strings.Contains(p.out.String(), `"msg":"swept expired load sessions and their stages","swept":1`)
	})
	if n := countOf(t, conn, `SELECT count(*) FROM t`); n != 0 {
		t.Fatalf("the table holds %d rows", n)
	}
	p.stop()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the service did not stop with its sweeper")
	}
}
