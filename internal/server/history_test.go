package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// tryLoad sends maps as one Load, or as a stream of messages of 2 rows.
func tryLoad(b *bundle, t *testing.T, stream bool, cfg *loadsvcv1.LoadConfig, maps ...map[string]any) (*loadsvcv1.LoadResponse, error) {
	t.Helper()
	if !stream {
		return b.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: rows(t, maps...)})
	}
	var msgs []*loadsvcv1.LoadStreamRequest
	for chunk := range slices.Chunk(maps, 2) {
		msgs = append(msgs, &loadsvcv1.LoadStreamRequest{Rows: rows(t, chunk...)})
	}
	return send(context.Background(), t, b.client, cfg, msgs...)
}

// failedLoadID is the load id a failure's details carry.
func failedLoadID(t *testing.T, err error) string {
	t.Helper()
	st, _ := status.FromError(err)
	id := errorInfo(t, st).GetMetadata()["load_id"]
	if id == "" {
		t.Fatalf("%s %q: no load_id in its ErrorInfo", st.Code(), st.Message())
	}
	return id
}

// records are the history's records as "load_id status code inserted", by
// load id.
func (b *bundle) records(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range testenv.Texts(t, b.admin, `SELECT concat_ws(' ', load_id, status, code, inserted) FROM loadsvc.load_history`) {
		id, rest, _ := strings.Cut(r, " ")
		if _, dup := out[id]; dup {
			t.Errorf("load %s is recorded twice", id)
		}
		out[id] = rest
	}
	return out
}

// 30 concurrent loads, a third of them failing (a duplicate key, or a value
// that does not parse): every OK answer has exactly one committed record
// with its counts, every failure one failed record with its code, and
// nothing else is recorded.
func TestHistoryExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t, withMaxConns(4))
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (0, 'taken')`)
	want := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 1; i <= 30; i++ {
		wg.Go(func() {
			cfg := &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}
			if i%2 == 0 {
				cfg = &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}
			}
			rs := []map[string]any{{"id": i * 10, "v": "a"}, {"id": i*10 + 1, "v": "b"}}
			switch i % 6 {
			case 3:
				rs = append(rs, map[string]any{"id": 0, "v": "dup"}) // append: ALREADY_EXISTS
			case 4:
				rs = append(rs, map[string]any{"id": "x"}) // INVALID_ARGUMENT
			}
			resp, err := tryLoad(b, t, i%5 == 0, cfg, rs...)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				want[resp.LoadId] = fmt.Sprintf("committed OK %d", resp.Inserted)
			case i%6 == 3:
				want[failedLoadID(t, err)] = "failed ALREADY_EXISTS 0"
			case i%6 == 4:
				want[failedLoadID(t, err)] = "failed INVALID_ARGUMENT 0"
			default:
				t.Errorf("load %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := b.records(t)
	if len(want) != 30 {
		t.Fatalf("%d distinct load ids for 30 loads", len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("load %s: recorded %q, want %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d records for %d loads", len(got), len(want))
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 1+20*2 {
		t.Errorf("t holds %d rows, want %d", n, 1+20*2)
	}
	b.clean(t)
}

// killingSource ends its rows by killing the backend that copies them:
// the rows are in the COPY, the load is past them and not yet committed.
type killingSource struct {
	loader.Source
	kill func()
}

func (k *killingSource) Next(ctx context.Context) (*loader.Batch, error) {
	batch, err := k.Source.Next(ctx)
	if errors.Is(err, io.EOF) {
		k.kill()
	}
	return batch, err
}

type killingExecutor struct {
	server.Executor
	kill func()
}

func (k killingExecutor) Run(ctx context.Context, cfg loader.Config, src loader.Source) (*loader.Result, error) {
	return k.Executor.Run(ctx, cfg, &killingSource{Source: src, kill: k.kill})
}

// Crash safety: a backend killed (pg_terminate_backend, from the admin
// pool) after the load's rows were copied and before its COMMIT leaves no
// rows and no committed record; the failure is recorded as ABORTED.
func TestHistoryBackendKilledBeforeCommit(t *testing.T) {
	t.Parallel()
	var b *bundle
	kill := func() { // on the load's goroutine: no t.Fatal here
		var pid int
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); { // pgx sends the rows before PostgreSQL starts the COPY
			err = b.admin.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
				WHERE datname = current_database() AND query LIKE 'COPY%' AND pid <> pg_backend_pid()`).Scan(&pid)
			if !errors.Is(err, pgx.ErrNoRows) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err == nil {
			_, err = b.admin.Exec(context.Background(), `SELECT pg_terminate_backend($1, 10000)`, pid)
		}
		if err != nil {
			t.Errorf("killing the COPY's backend: %v", err)
		}
	}
	e := testenv.New(t, cluster, testenv.WrapExecutor(func(x server.Executor) server.Executor { return killingExecutor{Executor: x, kill: kill} }))
	b = &bundle{url: e.URL, pool: e.Pool, admin: e.Admin, client: e.Client, exec: e.Exec}
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	for _, mode := range []loadsvcv1.Mode{loadsvcv1.Mode_MODE_APPEND, loadsvcv1.Mode_MODE_DELETE_INSERT} {
		_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Mode: mode, Pk: []string{"id"}}, Rows: seqRows(t, 1, 5)})
		wantCode(t, err, codes.Aborted, "load failed: the database connection was lost")
		id := failedLoadID(t, err)
		if got := b.records(t)[id]; got != "failed ABORTED 0" {
			t.Errorf("%s: the killed load %s is recorded as %q, want failed ABORTED 0", mode, id, got)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("t holds %d rows after killed loads", n)
	}
	if n := b.count(t, `SELECT count(*) FROM loadsvc.load_history WHERE status = 'committed'`); n != 0 {
		t.Errorf("%d committed records after killed loads", n)
	}
	b.clean(t)
}

// A replayed request id writes nothing and records nothing: its answer
// carries the load id of the load it replays, recorded once.
func TestHistoryReplayRecordsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, RequestId: "job-1"}, Rows: seqRows(t, 1, 3)}
	first, err := b.client.Load(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.client.Load(context.Background(), req)
	if err != nil || !again.Replayed || again.LoadId != first.LoadId {
		t.Fatalf("the retry: %v %v; want a replay of load %s", again, err, first.LoadId)
	}
	if got := b.records(t); len(got) != 1 || got[first.LoadId] != "committed OK 3" {
		t.Errorf("records %v, want the first load's alone", got)
	}
}
