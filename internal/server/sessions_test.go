package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// withTestPrincipal names the caller from the x-test-principal header, as a
// token's name would.
func withTestPrincipal(o *server.Options) {
	o.Principal = func(ctx context.Context) string {
		md, _ := metadata.FromIncomingContext(ctx)
		return strings.Join(md.Get("x-test-principal"), "")
	}
}

func as(who string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "x-test-principal", who)
}

func (b *bundle) begin(t *testing.T, ctx context.Context, cfg *loadsvcv1.LoadConfig) *loadsvcv1.LoadSession {
	t.Helper()
	s, err := b.client.BeginLoad(ctx, &loadsvcv1.BeginLoadRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *bundle) appendRows(ctx context.Context, t *testing.T, id, writer string, offset, first, n int) (*loadsvcv1.AppendRowsResponse, error) {
	t.Helper()
	return b.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: id, Writer: writer, Offset: int64(offset), Rows: seqRows(t, first, n)})
}

// stageLeft counts what sessions leave in the database: stage tables, and
// rows of the session tables.
func (b *bundle) stageLeft(t *testing.T) int64 {
	t.Helper()
	return b.count(t, `SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'loadsvc_stage')
		+ (SELECT count(*) FROM loadsvc.load_sessions) + (SELECT count(*) FROM loadsvc.load_session_writers)`)
}

// Four writers append in parallel; one is killed mid-way (its context
// cancelled during a call) and resumes from GetLoadSession with the same
// batches. Until the commit a reader sees none of the rows; the commit
// writes each row once, and a reader during it sees the old rows or the
// new, never a mix.
func TestSessionFourWritersOneResumes(t *testing.T) {
	t.Parallel()
	const perWriter, batch = 1000, 50
	killer := &killAppend{writer: "part-2", offset: perWriter/2 - batch}
	b := setup(t, withMaxConns(8), withServer(func(o *server.Options) { killer.Sessions, o.Sessions = o.Sessions, killer }))
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	b.exec1(t, `INSERT INTO t SELECT g, 'old' FROM generate_series(0, 3999) g`)
	ctx := ctxTimeout(t, time.Minute)
	s := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}})
	killed, kill := context.WithCancel(ctx)
	defer kill()
	killer.kill = kill
	// A reader during the appends and the commit sees the old rows or the
	// new ones, never a mix.
	stop := make(chan struct{})
	halt := sync.OnceFunc(func() { close(stop) })
	t.Cleanup(halt)
	seen := make(chan string, 1)
	go func() {
		defer close(seen)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var old, fresh int64
			if err := b.admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE v = 'old'), count(*) FILTER (WHERE v <> 'old') FROM t`).Scan(&old, &fresh); err != nil {
				seen <- err.Error()
				return
			}
			if !(old == 4000 && fresh == 0) && !(old == 0 && fresh == 4000) {
				seen <- errorf("a reader saw %d old and %d new rows", old, fresh).Error()
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "part-" + itoa(w)
			start := 0
			if w == 2 { // killed mid-way, during its call at killer.offset
				off := 0
				for ; off < perWriter; off += batch {
					if _, err := b.appendRows(killed, t, s.SessionId, name, off, w*perWriter+off, batch); err != nil {
						if status.Code(err) != codes.Canceled || off != int(killer.offset) {
							errs <- errorf("writer %s at %d: %v; want CANCELLED at %d", name, off, err, killer.offset)
							return
						}
						break
					}
				}
				got, err := b.client.GetLoadSession(ctx, &loadsvcv1.GetLoadSessionRequest{SessionId: s.SessionId})
				if err != nil {
					errs <- err
					return
				}
				start = int(got.Committed[name])
				if start != off {
					errs <- errorf("writer %s resumes at %d, want %d: the killed call stored nothing", name, start, off)
					return
				}
			}
			for off := start; off < perWriter; off += batch {
				resp, err := b.appendRows(ctx, t, s.SessionId, name, off, w*perWriter+off, batch)
				if err != nil {
					errs <- err
					return
				}
				if resp.NextOffset != int64(off+batch) || resp.Rows != batch {
					errs <- errorf("writer %s at %d: %v", name, off, resp)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM t WHERE v <> 'old'`); n != 0 {
		t.Fatalf("a reader sees %d rows of the open session", n)
	}
	got, err := b.client.GetLoadSession(ctx, &loadsvcv1.GetLoadSessionRequest{SessionId: s.SessionId})
	if err != nil || got.Rows != 4*perWriter || len(got.Committed) != 4 || got.State != loadsvcv1.SessionState_SESSION_STATE_OPEN {
		t.Fatalf("session before commit: %v %v", got, err)
	}
	resp, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	halt()
	if msg, ok := <-seen; ok {
		t.Fatal(msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	if resp.Inserted != 4*perWriter || resp.Deleted != 4000 || resp.Rows != 4*perWriter {
		t.Fatalf("commit: %v", resp)
	}
	if n := b.count(t, `SELECT count(DISTINCT id) FROM t WHERE v = 'v' || id`); n != 4*perWriter {
		t.Fatalf("table holds %d of the session's rows", n)
	}
	again, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	if err != nil || again.Inserted != resp.Inserted || again.Deleted != resp.Deleted {
		t.Fatalf("a retried commit: %v %v, want %v", again, err, resp)
	}
	_, err = b.appendRows(ctx, t, s.SessionId, "late", 0, 0, 1)
	wantCode(t, err, codes.FailedPrecondition, "load session "+s.SessionId+" is committed")
	if n := b.count(t, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'loadsvc_stage'`); n != 0 {
		t.Fatalf("%d stage tables left after the commit", n)
	}
	b.clean(t)
}

// killAppend cancels the client of one writer's first append at one
// offset, by kill, and holds the call until the server sees the client
// gone: the append then runs, and ends, in a call whose client has left
// mid-way. The resent batch goes through.
type killAppend struct {
	server.Sessions
	writer string
	offset int64
	kill   func()
	done   atomic.Bool
}

func (k *killAppend) Append(ctx context.Context, a loader.Append) (*loader.Appended, error) {
	if a.Writer == k.writer && a.Offset == k.offset && k.done.CompareAndSwap(false, true) {
		k.kill()
		<-ctx.Done()
	}
	return k.Sessions.Append(ctx, a)
}

type testError string

func (e testError) Error() string { return string(e) }

func errorf(format string, args ...any) error {
	return testError(fmt.Sprintf(format, args...))
}

// A batch sent again is acknowledged without writing; one that straddles
// the stored offset is FAILED_PRECONDITION, a gap OUT_OF_RANGE, both
// naming the offsets.
func TestSessionOffsets(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	s := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND})
	if resp, err := b.appendRows(ctx, t, s.SessionId, "w", 0, 0, 10); err != nil || resp.Rows != 10 || resp.NextOffset != 10 {
		t.Fatalf("first batch: %v %v", resp, err)
	}
	if resp, err := b.appendRows(ctx, t, s.SessionId, "w", 0, 0, 10); err != nil || resp.Rows != 0 || resp.NextOffset != 10 {
		t.Fatalf("the batch again: %v %v", resp, err)
	}
	_, err := b.appendRows(ctx, t, s.SessionId, "w", 5, 5, 10)
	st := wantCode(t, err, codes.FailedPrecondition, `writer "w" of load session `+s.SessionId+` sent 10 rows at offset 5, which straddle its next offset 10`)
	if ei := errorInfo(t, st); ei.Reason != server.ReasonOffset || ei.Metadata["writer"] != "w" || ei.Metadata["offset"] != "5" || ei.Metadata["next_offset"] != "10" {
		t.Errorf("error info of the straddle %v", ei)
	}
	_, err = b.appendRows(ctx, t, s.SessionId, "w", 20, 20, 10)
	st = wantCode(t, err, codes.OutOfRange, `writer "w" of load session `+s.SessionId+` sent offset 20, past its next offset 10: rows 10 to 19 are missing; resend from offset 10`)
	if ei := errorInfo(t, st); ei.Reason != server.ReasonOffset || ei.Metadata["writer"] != "w" || ei.Metadata["offset"] != "20" || ei.Metadata["next_offset"] != "10" {
		t.Errorf("error info of the gap %v", ei)
	}
	resp, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	if err != nil || resp.Inserted != 10 {
		t.Fatalf("commit: %v %v", resp, err)
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 10 {
		t.Fatalf("table holds %d rows, want 10", n)
	}
}

// A session is its principal's: to anyone else every call is NOT_FOUND,
// as for a session that does not exist.
func TestSessionOtherPrincipalNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t, withServer(withTestPrincipal))
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	s := b.begin(t, as("alice"), &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND})
	if _, err := b.appendRows(as("alice"), t, s.SessionId, "w", 0, 0, 3); err != nil {
		t.Fatal(err)
	}
	want := `load session "` + s.SessionId + `" not found`
	_, err := b.appendRows(as("bob"), t, s.SessionId, "w", 3, 3, 3)
	wantCode(t, err, codes.NotFound, want)
	_, err = b.client.GetLoadSession(as("bob"), &loadsvcv1.GetLoadSessionRequest{SessionId: s.SessionId})
	wantCode(t, err, codes.NotFound, want)
	_, err = b.client.CommitLoad(as("bob"), &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	wantCode(t, err, codes.NotFound, want)
	_, err = b.client.AbortLoad(as("bob"), &loadsvcv1.AbortLoadRequest{SessionId: s.SessionId})
	wantCode(t, err, codes.NotFound, want)
	_, err = b.client.GetLoadSession(as("bob"), &loadsvcv1.GetLoadSessionRequest{SessionId: "00000000000000000000000000000000"})
	wantCode(t, err, codes.NotFound, `load session "00000000000000000000000000000000" not found`)
	if got, err := b.client.GetLoadSession(as("alice"), &loadsvcv1.GetLoadSessionRequest{SessionId: s.SessionId}); err != nil || got.Rows != 3 {
		t.Fatalf("alice's session: %v %v", got, err)
	}
}

// Abort and expiry leave nothing behind: no stage table, no session row.
func TestSessionAbortAndExpiryLeaveNothing(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	s := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}})
	if _, err := b.appendRows(ctx, t, s.SessionId, "w", 0, 0, 5); err != nil {
		t.Fatal(err)
	}
	if n := b.stageLeft(t); n != 3 {
		t.Fatalf("an open session holds %d things, want a stage, a session and a writer", n)
	}
	if _, err := b.client.AbortLoad(ctx, &loadsvcv1.AbortLoadRequest{SessionId: s.SessionId}); err != nil {
		t.Fatal(err)
	}
	if n := b.stageLeft(t); n != 0 {
		t.Fatalf("abort left %d things", n)
	}
	_, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	wantCode(t, err, codes.NotFound, `load session "`+s.SessionId+`" not found`)

	s, err = b.client.BeginLoad(ctx, &loadsvcv1.BeginLoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Ttl: durationpb.New(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.appendRows(ctx, t, s.SessionId, "w", 0, 0, 5); err != nil {
		t.Fatal(err)
	}
	store := &pgexec.SessionStore{Exec: b.exec}
	testenv.WaitUntil(t, 10*time.Second, "the session expires", func() bool {
		return b.count(t, `SELECT count(*) FROM loadsvc.load_sessions WHERE expires_at <= now()`) == 1
	})
	_, err = b.appendRows(ctx, t, s.SessionId, "w", 5, 5, 5)
	wantCode(t, err, codes.FailedPrecondition, "load session "+s.SessionId+" expired at ")
	if n, err := store.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if n := b.stageLeft(t); n != 0 {
		t.Fatalf("expiry left %d things", n)
	}
	_, err = b.appendRows(ctx, t, s.SessionId, "w", 5, 5, 5)
	wantCode(t, err, codes.NotFound, `load session "`+s.SessionId+`" not found`)
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Fatalf("the table holds %d rows", n)
	}
	b.clean(t)
}

// A refresh-key delete_insert through a session of three writers leaves
// the table exactly as the same rows through one LoadStream do.
func TestSessionRefreshKeyMatchesLoadStream(t *testing.T) {
	t.Parallel()
	months := []string{"2024-10-01", "2024-11-01"}
	cfg := &loadsvcv1.LoadConfig{Schema: "business", Table: "规模明细", Pk: refreshKey}
	first := scaleRows(months, businessTypes, 30, 1)
	again := scaleRows(months[1:], businessTypes[:3], 40, 2)
	stream, session := setup(t), setup(t)
	for _, b := range []*bundle{stream, session} {
		b.exec1(t, scaleTable)
		loadVia(t, b, true, cfg, first)
	}
	want := loadVia(t, stream, true, cfg, again)

	ctx := ctxTimeout(t, time.Minute)
	s := session.begin(t, ctx, cfg)
	offsets := map[string]int{}
	for i, chunk := 0, 0; i < len(again); i, chunk = i+53, chunk+1 {
		part := again[i:min(i+53, len(again))]
		writer := "w" + itoa(chunk%3)
		if _, err := session.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.SessionId, Writer: writer, Offset: int64(offsets[writer]), Rows: rows(t, part...)}); err != nil {
			t.Fatal(err)
		}
		offsets[writer] += len(part)
	}
	got, err := session.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	if got.Deleted != want.Deleted || got.Inserted != want.Inserted || got.Rows != want.Rows {
		t.Errorf("session: deleted %d inserted %d rows %d; stream: deleted %d inserted %d rows %d", got.Deleted, got.Inserted, got.Rows, want.Deleted, want.Inserted, want.Rows)
	}
	viaStream, viaSession := scaleContent(t, stream.admin), scaleContent(t, session.admin)
	if !slices.Equal(viaStream, viaSession) {
		t.Fatalf("the tables differ: %d rows through the stream, %d through the session", len(viaStream), len(viaSession))
	}
	if wantRows := expectContent(append(without(without(without(first, months[1], businessTypes[0]), months[1], businessTypes[1]), months[1], businessTypes[2]), again...)); !slices.Equal(viaSession, wantRows) {
		t.Fatalf("the table holds %d rows, want %d", len(viaSession), len(wantRows))
	}
}

// BeginLoad checks the config as Load does and refuses what a session
// cannot do, naming the setting; a principal holds at most
// LOADSVC_MAX_SESSIONS sessions.
func TestSessionBeginRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, withServer(func(o *server.Options) {
		o.Sessions.(*pgexec.SessionStore).MaxPerPrincipal = 2
	}))
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text, g int GENERATED ALWAYS AS (id * 2) STORED)`)
	ctx := ctxTimeout(t, time.Minute)
	begin := func(cfg *loadsvcv1.LoadConfig, ttl time.Duration) error {
		req := &loadsvcv1.BeginLoadRequest{Config: cfg}
		if ttl != 0 {
			req.Ttl = durationpb.New(ttl)
		}
		_, err := b.client.BeginLoad(ctx, req)
		return err
	}
	wantCode(t, begin(&loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true}, 0), codes.InvalidArgument, "plan_only is refused by BeginLoad")
	wantCode(t, begin(&loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, DryRun: true}, 0), codes.InvalidArgument, "dry_run is refused by BeginLoad")
	wantCode(t, begin(&loadsvcv1.LoadConfig{Table: "t"}, 0), codes.InvalidArgument, "mode delete_insert needs key columns in pk")
	wantCode(t, begin(&loadsvcv1.LoadConfig{Table: "nope", Mode: loadsvcv1.Mode_MODE_APPEND}, 0), codes.NotFound, `load failed: relation "nope" does not exist`)
	wantCode(t, begin(&loadsvcv1.LoadConfig{Table: "t", Pk: []string{"nope"}}, 0), codes.InvalidArgument, `load failed: column "nope" of relation "t" does not exist`)
	wantCode(t, begin(&loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, 400*24*time.Hour), codes.InvalidArgument, "ttl 9600h0m0s is out of range")
	wantCode(t, begin(&loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, -time.Second), codes.InvalidArgument, "ttl -1s is out of range")
	if b.count(t, `SELECT count(*) FROM loadsvc.load_sessions`) != 0 {
		t.Fatal("a refused BeginLoad left a session")
	}
	for _, table := range []string{"load_sessions", "load_session_writers"} {
		_, err := b.client.Load(ctx, &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Schema: "loadsvc", Table: table, Mode: loadsvcv1.Mode_MODE_APPEND},
			Rows: rows(t, map[string]any{"session_id": "x"})})
		wantCode(t, err, codes.PermissionDenied, `"loadsvc"."`+table+`" is one of loadsvc's load session tables and is never a load target`)
	}
	for range 2 {
		if err := begin(&loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, 0); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, begin(&loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, 0), codes.ResourceExhausted,
		"this caller holds 2 open load sessions, the most one principal may (LOADSVC_MAX_SESSIONS=2)")
}

// An append is checked as a Load's rows are, and its values by the stage's
// types: a bad value is refused by the append that brings it, and nothing
// of that batch is stored.
func TestSessionAppendRefusals(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE t (id bigint PRIMARY KEY, v text, d date, g int GENERATED ALWAYS AS (id * 2) STORED)`)
	s := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}})
	app := func(offset int, maps ...map[string]any) (*loadsvcv1.AppendRowsResponse, error) {
		return b.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.SessionId, Writer: "w", Offset: int64(offset), Rows: rows(t, maps...)})
	}
	_, err := app(0, map[string]any{"id": 1, "d": "yesterday-ish"})
	wantCode(t, err, codes.InvalidArgument, `load failed: invalid input syntax for type date: "yesterday-ish"`)
	_, err = app(0, map[string]any{"id": 1, "nope": 1})
	wantCode(t, err, codes.InvalidArgument, `load failed: column "nope" of relation "public"."t" does not exist`)
	_, err = app(0, map[string]any{"v": "no key"})
	wantCode(t, err, codes.InvalidArgument, `row 0 has no value for key column "id"`)
	_, err = b.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: "not-a-session", Rows: rows(t, map[string]any{"id": 1})})
	wantCode(t, err, codes.NotFound, `load session "not-a-session" not found`)
	if resp, err := app(0, map[string]any{"id": 1, "d": "2024-11-01", "g": 5}); err != nil || resp.NextOffset != 1 {
		t.Fatalf("a good batch after the refused ones: %v %v", resp, err)
	}
	typed := typedIDs(2, 3)
	if resp, err := b.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.SessionId, Writer: "typed", TypedRows: typed.TypedRows}); err != nil || resp.Rows != 3 {
		t.Fatalf("typed rows: %v %v", resp, err)
	}
	resp, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	if err != nil || resp.Inserted != 4 || !slices.Equal(resp.SkippedColumns, []string{"g"}) {
		t.Fatalf("commit: %v %v", resp, err)
	}
	if got := testenv.Texts(t, b.admin, `SELECT concat_ws(',', id, v, d, g) FROM t ORDER BY id`); !slices.Equal(got, []string{"1,2024-11-01,2", "2,v2,4", "3,v3,6", "4,v4,8"}) {
		t.Fatalf("table: %q", got)
	}
}

// Rows that share a key are ordered by writer, then offset: keep_last keeps
// the last writer's, refuse names both rows; a failed commit leaves the
// session open with its stage, so that it can be aborted.
func TestSessionDuplicatesAcrossWriters(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	for _, dup := range []loadsvcv1.Duplicates{loadsvcv1.Duplicates_DUPLICATES_KEEP_LAST, loadsvcv1.Duplicates_DUPLICATES_REFUSE} {
		s := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_UPSERT, Pk: []string{"id"}, Duplicates: dup})
		for _, w := range []string{"b", "a"} {
			if _, err := b.client.AppendRows(ctx, &loadsvcv1.AppendRowsRequest{SessionId: s.SessionId, Writer: w,
				Rows: rows(t, map[string]any{"id": 1, "v": w + "0"}, map[string]any{"id": 2, "v": w + "1"}, map[string]any{"id": 1, "v": w + "2"})}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
		if dup == loadsvcv1.Duplicates_DUPLICATES_REFUSE {
			wantCode(t, err, codes.InvalidArgument, `rows 0 and 2 have the same key ("id"=1)`) // writer a's, first in load order
			if n := b.stageLeft(t); n != 7 {
				t.Fatalf("a failed commit left %d things, want its stage, both sessions and their four writers", n)
			}
			if _, err := b.client.AbortLoad(ctx, &loadsvcv1.AbortLoadRequest{SessionId: s.SessionId}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil || resp.DuplicatesDropped != 4 || resp.Inserted != 2 {
			t.Fatalf("keep_last: %v %v", resp, err)
		}
		if got := testenv.Texts(t, b.admin, `SELECT v FROM t ORDER BY id`); !slices.Equal(got, []string{"b2", "b1"}) {
			t.Fatalf("keep_last kept %q, want the last writer's (b)", got)
		}
	}
	if n := b.stageLeft(t); n != 3 {
		t.Fatalf("%d things left, want the committed session's row and its two writers", n)
	}
}

// A session's request_id makes its commit exactly-once against any load
// with that id: a second session of the same config and as many rows
// replays the first one's result, writes nothing, and drops its stage.
func TestSessionRequestID(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	cfg := &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, RequestId: "month-11"}
	var first *loadsvcv1.LoadResponse
	for i := range 2 {
		s := b.begin(t, ctx, cfg)
		if _, err := b.appendRows(ctx, t, s.SessionId, "w", 0, 0, 4); err != nil {
			t.Fatal(err)
		}
		resp, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
		if err != nil || resp.Inserted != 4 || resp.Replayed != (i == 1) {
			t.Fatalf("session %d: %v %v", i, resp, err)
		}
		if first == nil {
			first = resp
		}
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 4 {
		t.Fatalf("the table holds %d rows, want 4", n)
	}
	if n := b.count(t, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'loadsvc_stage'`); n != 0 {
		t.Fatalf("%d stages left", n)
	}
	s := b.begin(t, ctx, cfg)
	if _, err := b.appendRows(ctx, t, s.SessionId, "w", 0, 10, 5); err != nil {
		t.Fatal(err)
	}
	_, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	wantCode(t, err, codes.AlreadyExists, `request_id "month-11" was already used with a different payload`)
}

// A stage that lost rows (PostgreSQL empties an UNLOGGED table when it
// restarts after a crash; TRUNCATE does the same here) is never committed
// short: DATA_LOSS, nothing written, the session left to be aborted.
func TestSessionLostStageRefused(t *testing.T) {
	b, ctx := setupTable(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	s := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}})
	if _, err := b.appendRows(ctx, t, s.SessionId, "w", 0, 0, 5); err != nil {
		t.Fatal(err)
	}
	b.exec1(t, `TRUNCATE loadsvc_stage."s_`+s.SessionId+`"`)
	_, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	wantCode(t, err, codes.DataLoss, "load session "+s.SessionId+" cannot commit: its writers stored 5 rows but its stage holds 0")
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Fatalf("the table holds %d rows", n)
	}
	if _, err := b.client.AbortLoad(ctx, &loadsvcv1.AbortLoadRequest{SessionId: s.SessionId}); err != nil {
		t.Fatal(err)
	}
}

// A commit asks the table allowlist again: a caller whose allowlist lost
// the session's table since BeginLoad cannot commit it, and the session
// stays open for a caller that may.
func TestSessionCommitAskedAllowlistAgain(t *testing.T) {
	t.Parallel()
	var revoked atomic.Bool
	b := setup(t, withServer(func(o *server.Options) {
		o.Allow = func(_ context.Context, schema, table string) (string, error) {
			if revoked.Load() {
				return "", status.Errorf(codes.PermissionDenied, "table %q.%q is not allowed", schema, table)
			}
			return schema, nil
		}
	}))
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	ctx := ctxTimeout(t, time.Minute)
	s := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND})
	if _, err := b.appendRows(ctx, t, s.SessionId, "w", 0, 0, 3); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	_, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	wantCode(t, err, codes.PermissionDenied, `table "public"."t" is not allowed`)
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Fatalf("a refused commit wrote %d rows", n)
	}
	revoked.Store(false)
	if resp, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId}); err != nil || resp.Inserted != 3 {
		t.Fatalf("the commit once allowed again: %v %v", resp, err)
	}
}
