package server_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// send streams cfg and then each message, and returns the response.
func send(ctx context.Context, t *testing.T, c loadsvcv1.LoadServiceClient, cfg *loadsvcv1.LoadConfig, msgs ...*loadsvcv1.LoadStreamRequest) (*loadsvcv1.LoadResponse, error) {
	t.Helper()
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

func typedIDs(first, n int) *loadsvcv1.LoadStreamRequest {
	ids := make([]int64, n)
	vs := make([]string, n)
	for i := range ids {
		ids[i] = int64(first + i)
		vs[i] = "v" + itoa(first+i)
	}
	return &loadsvcv1.LoadStreamRequest{TypedRows: &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{
		{Name: "id", Int64S: ids}, {Name: "v", Texts: vs}}}}
}

// Typed rows of every kind survive a stream of several messages, in one
// session and one transaction.
func TestStreamTypedRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id bigint PRIMARY KEY, f float8, ok boolean, s text, n numeric(30,10), raw bytea, ts timestamptz, tsl timestamp, j jsonb, d date)`)
	msg := func(first int64) *loadsvcv1.LoadStreamRequest {
		return &loadsvcv1.LoadStreamRequest{TypedRows: &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{
			{Name: "id", Int64S: []int64{first, first + 1}},
			{Name: "f", Float64S: []float64{1e20, -0.5}},
			{Name: "ok", Bools: []bool{true, false}},
			{Name: "s", Texts: []string{"tab\there\nnew \\ back 'q' \"d\" 😀 年金", `\N`}},
			{Name: "n", Texts: []string{"9007199254740993.0000000001", "-0.5"}, Nulls: []bool{false, true}},
			{Name: "raw", BytesValues: [][]byte{{0, 1, 0xfe, '\\'}, {}}},
			{Name: "ts", TimestampMicros: []int64{1700000000123456, -1}},
			{Name: "tsl", TimestampMicros: []int64{0, 1}},
			{Name: "j", JsonValues: []string{`{"a": [1, 2.5, "x"]}`, `[true, null]`}},
			{Name: "d", Texts: []string{"2024-11-01", "1999-12-31"}},
		}}}
	}
	before := b.pool.Stat().AcquireCount()
	resp, err := send(context.Background(), t, b.client, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, ChunkSize: 3}, msg(1), msg(3), msg(5))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.pool.Stat().AcquireCount() - before; got != 1 {
		t.Errorf("AcquireCount grew by %d", got)
	}
	if resp.Inserted != 6 || resp.Rows != 6 || resp.Batches != 2 {
		t.Errorf("response %v", resp)
	}
	row := func(id int) []string {
		var out [9]string
		err := b.admin.QueryRow(context.Background(), `SELECT f::text, ok::text, s, coalesce(n::text, 'NULL'), raw::text, (ts AT TIME ZONE 'UTC')::text, tsl::text, j::text, d::text FROM t WHERE id = $1`, id).
			Scan(&out[0], &out[1], &out[2], &out[3], &out[4], &out[5], &out[6], &out[7], &out[8])
		if err != nil {
			t.Fatal(err)
		}
		return out[:]
	}
	want3 := []string{"1e+20", "true", "tab\there\nnew \\ back 'q' \"d\" 😀 年金", "9007199254740993.0000000001", `\x0001fe5c`, "2023-11-14 22:13:20.123456", "1970-01-01 00:00:00", `{"a": [1, 2.5, "x"]}`, "2024-11-01"}
	want4 := []string{"-0.5", "false", `\N`, "NULL", `\x`, "1969-12-31 23:59:59.999999", "1970-01-01 00:00:00.000001", `[true, null]`, "1999-12-31"}
	for i, got := range [][]string{row(3), row(4)} {
		want := [][]string{want3, want4}[i]
		for k := range want {
			if got[k] != want[k] {
				t.Errorf("row %d column %d: got %q, want %q", 3+i, k, got[k], want[k])
			}
		}
	}
	b.clean(t)
}

// text_block carries a column's texts as one block, each value followed by
// a NUL, a NULL row's empty: the rows reach the table as texts would, and
// a block that is not one is refused, naming it, before anything is
// written.
func TestStreamTextBlock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id bigint PRIMARY KEY, s text, n numeric(18,4), d date)`)
	msg := func(first int64, s, n, d string) *loadsvcv1.LoadStreamRequest {
		return &loadsvcv1.LoadStreamRequest{TypedRows: &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{
			{Name: "id", Int64S: []int64{first, first + 1, first + 2}},
			{Name: "s", TextBlock: []byte(s)},
			{Name: "n", TextBlock: []byte(n), Nulls: []bool{false, true, false}},
			{Name: "d", TextBlock: []byte(d)},
		}}}
	}
	resp, err := send(context.Background(), t, b.client, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}},
		msg(1, "tab\there\x00\x00年金 \\N\x00", "12.5\x00\x00-0.0001\x00", "2024-11-01\x002024-12-01\x001999-12-31\x00"),
		msg(4, "a\x00b\x00c\x00", "1\x00\x003\x00", "2024-01-01\x002024-01-02\x002024-01-03\x00"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Inserted != 6 {
		t.Errorf("response %v", resp)
	}
	rows, err := b.admin.Query(context.Background(), `SELECT id || '|' || s || '|' || coalesce(n::text, 'NULL') || '|' || d FROM t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1|tab\there|12.5000|2024-11-01", "2||NULL|2024-12-01", "3|年金 \\N|-0.0001|1999-12-31",
		"4|a|1.0000|2024-01-01", "5|b|NULL|2024-01-02", "6|c|3.0000|2024-01-03"}
	if !slices.Equal(got, want) {
		t.Errorf("table:\n got %q\nwant %q", got, want)
	}
	b.clean(t)

	for block, reason := range map[string]string{
		"a\x00b\x00c":         `typed column "s": text_block does not end with a NUL byte`,
		"a\x00b\x00":          `typed column "s" has 2 rows, the columns before it 3`,
		"a\x00\xffb\x00c\x00": `typed column "s": text_block is not valid UTF-8`,
	} {
		_, err := send(context.Background(), t, b.client, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}},
			msg(10, block, "1\x00\x002\x00", "2024-01-01\x002024-01-02\x002024-01-03\x00"))
		wantCode(t, err, codes.InvalidArgument, reason)
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 6 {
		t.Errorf("refused blocks changed the table: %d rows", n)
	}
	b.clean(t)
}

// A key in several messages of a stream: refused with DUPLICATES_REFUSE,
// naming both rows; the last kept with DUPLICATES_KEEP_LAST.
func TestStreamDuplicatesAcrossMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id bigint, v text)`) // no unique constraint
	b.exec1(t, `INSERT INTO t VALUES (2, 'old'), (2, 'old2'), (100, 'other')`)
	cfg := &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, ChunkSize: 2, Duplicates: loadsvcv1.Duplicates_DUPLICATES_REFUSE}
	_, err := send(context.Background(), t, b.client, cfg, typedIDs(0, 3), typedIDs(5, 1), typedIDs(2, 2))
	st := wantCode(t, err, codes.InvalidArgument, `rows 2 and 4 have the same key ("id"=2)`)
	if f := badRequestField(t, st); f != "rows[4]" {
		t.Errorf("field %q", f)
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 3 {
		t.Errorf("refused stream changed the table: %d rows", n)
	}
	b.clean(t)

	cfg.Duplicates = loadsvcv1.Duplicates_DUPLICATES_KEEP_LAST
	last := typedIDs(2, 2)
	last.TypedRows.Columns[1].Texts = []string{"last2", "last3"}
	resp, err := send(context.Background(), t, b.client, cfg, typedIDs(0, 3), typedIDs(5, 1), last)
	if err != nil {
		t.Fatal(err)
	}
	if resp.DuplicatesDropped != 1 || resp.Deleted != 2 || resp.Inserted != 5 || resp.Rows != 6 {
		t.Errorf("response %v", resp)
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 6 {
		t.Errorf("table has %d rows, want 6", n)
	}
	if n := b.count(t, `SELECT count(*) FROM t WHERE id = 2 AND v = 'last2'`); n != 1 {
		t.Errorf("key 2 does not hold the last row")
	}
	b.clean(t)
}

// A bad row in a later message, a stream the client breaks, and a stream
// whose columns change all write nothing and leave the pool clean.
func TestStreamFailuresWriteNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id bigint PRIMARY KEY, v text)`)
	cfg := &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, ChunkSize: 10}

	bad := typedIDs(100, 2)
	bad.TypedRows.Columns[0].Nulls = []bool{false, true}
	_, err := send(context.Background(), t, b.client, cfg, typedIDs(0, 50), bad)
	wantCode(t, err, codes.InvalidArgument, `row 51 has no value for key column "id"`)
	b.clean(t)

	_, err = send(context.Background(), t, b.client, cfg,
		&loadsvcv1.LoadStreamRequest{Rows: rows(t, map[string]any{"id": 1, "v": "a"})},
		&loadsvcv1.LoadStreamRequest{Rows: rows(t, map[string]any{"id": 2, "w": "b"})})
	wantCode(t, err, codes.InvalidArgument, `row 1, column "w": the column is not among the columns of the load`)
	b.clean(t)

	// The client sends half a load, then cancels.
	ctx, cancel := context.WithCancel(context.Background())
	st, err := b.client.LoadStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&loadsvcv1.LoadStreamRequest{Config: cfg}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := st.Send(typedIDs(i*100, 100)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitUntil(t, 20*time.Second, "the server copied rows and waits for more", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND pid <> pg_backend_pid() AND state = 'idle in transaction' AND query LIKE 'COPY %'`) == 1
	})
	cancel()
	_, err = st.CloseAndRecv()
	wantCode(t, err, codes.Canceled, "")
	b.clean(t)
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("failed streams left %d rows", n)
	}

	// JSON rows: a later message may leave a column out; it is NULL.
	resp, err := send(context.Background(), t, b.client, cfg,
		&loadsvcv1.LoadStreamRequest{Rows: rows(t, map[string]any{"id": 1, "v": "a"})},
		&loadsvcv1.LoadStreamRequest{Rows: rows(t, map[string]any{"id": 2})})
	if err != nil || resp.Inserted != 2 {
		t.Fatalf("%v %v", resp, err)
	}
	if n := b.count(t, `SELECT count(*) FROM t WHERE id = 2 AND v IS NULL`); n != 1 {
		t.Errorf("missing column not NULL")
	}
}

// Plan-only and empty streams never connect, even with no database.
func TestStreamPlanAndEmptyNeedNoConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB())
	resp, err := send(context.Background(), t, b.client, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true}, typedIDs(0, 3), typedIDs(3, 2))
	if err != nil || resp.Rows != 5 || resp.Deleted != 5 || resp.SqlScript == "" {
		t.Fatalf("plan: %v %v", resp, err)
	}
	resp, err = send(context.Background(), t, b.client, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}})
	if err != nil || resp.Rows != 0 || resp.Mode != loadsvcv1.Mode_MODE_DELETE_INSERT {
		t.Fatalf("empty: %v %v", resp, err)
	}
	_, err = send(context.Background(), t, b.client, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, typedIDs(0, 1))
	wantCode(t, err, codes.Unavailable, "database connection failed: ")
}

// A stream over the row limit is RESOURCE_EXHAUSTED naming the limit, and
// writes nothing.
func TestStreamRowLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.maxStreamRows = 5 })
	b.exec1(t, `CREATE TABLE t (id bigint PRIMARY KEY, v text)`)
	_, err := send(context.Background(), t, b.client, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, typedIDs(0, 3), typedIDs(3, 3))
	wantCode(t, err, codes.ResourceExhausted, "the load carries 6 rows or more, past the limit of 5 rows per stream")
	b.clean(t)
	if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("a refused stream wrote %d rows", n)
	}
}

// The rows of a stream's message reach PostgreSQL while the client is still
// to send the next: the COPY does not hold a message's rows back until it
// has 64 KB or the stream ends.
func TestStreamRowsReachPostgreSQLBeforeTheNextMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id bigint PRIMARY KEY, v text)`)
	st, err := b.client.LoadStream(ctxTimeout(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&loadsvcv1.LoadStreamRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Send(typedIDs(0, 10)); err != nil {
		t.Fatal(err)
	}
	// The COPY's progress, seen from another session while the stream waits.
	const copied = `SELECT coalesce(sum(tuples_processed), 0) FROM pg_stat_progress_copy WHERE relid = 't'::regclass`
	deadline := time.Now().Add(20 * time.Second)
	for n := b.count(t, copied); n != 10; n = b.count(t, copied) {
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL has %d of the first message's 10 rows while the stream waits", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := st.Send(typedIDs(10, 5)); err != nil {
		t.Fatal(err)
	}
	resp, err := st.CloseAndRecv()
	if err != nil || resp.Inserted != 15 {
		t.Fatalf("%v %v", resp, err)
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 15 {
		t.Errorf("table has %d rows, want 15", n)
	}
}
