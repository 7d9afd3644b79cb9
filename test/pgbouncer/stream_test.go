package pgbouncer

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Typed rows of every kind, streamed in several messages, arrive intact
// through PgBouncer, in one session and one transaction.
func TestStreamTypedRows(t *testing.T) {
	t.Parallel()
	msg := func(first int64) *loadsvcv1.LoadStreamRequest {
		return &loadsvcv1.LoadStreamRequest{TypedRows: &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{
			{Name: "id", Int64S: []int64{first, first + 1}},
			{Name: "f", Float64S: []float64{1e20, -0.5}},
			{Name: "ok", Bools: []bool{true, false}},
			{Name: "s", Texts: []string{"tab\there\nnew \\ back 'q' 😀 年金", `\N`}},
			{Name: "n", Texts: []string{"9007199254740993.0000000001", "-0.5"}, Nulls: []bool{false, true}},
			{Name: "raw", BytesValues: [][]byte{{0, 1, 0xfe, '\\'}, {}}},
			{Name: "ts", TimestampMicros: []int64{1700000000123456, -1}},
			{Name: "j", JsonValues: []string{`{"a": [1, 2.5, "x"]}`, `[true, null]`}},
		}}}
	}
	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v)
		e.exec(t, `CREATE TABLE t (id bigint PRIMARY KEY, f float8, ok boolean, s text, n numeric(30,10), raw bytea, ts timestamptz, j jsonb)`)
		before := e.pool.Stat().AcquireCount()
		resp, err := send(context.Background(), e.client, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, ChunkSize: 4}, msg(1), msg(3), msg(5))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.pool.Stat().AcquireCount() - before; got != 1 {
			t.Errorf("the stream acquired %d connections, want 1", got)
		}
		if resp.Inserted != 6 || resp.Rows != 6 || resp.Batches != 2 {
			t.Errorf("response %v", resp)
		}
		want := e.count(t, `SELECT count(*) FROM t WHERE id IN (1, 3, 5) AND f = 1e20 AND ok AND s = E'tab\there\nnew \\ back ''q'' 😀 年金'
  AND n = 9007199254740993.0000000001 AND raw = '\x0001fe5c'::bytea AND ts = '2023-11-14 22:13:20.123456+00' AND j = '{"a": [1, 2.5, "x"]}'`)
		other := e.count(t, `SELECT count(*) FROM t WHERE id IN (2, 4, 6) AND f = -0.5 AND NOT ok AND s = '\N' AND n IS NULL AND raw = ''::bytea
  AND ts = '1969-12-31 23:59:59.999999+00' AND j = '[true, null]'`)
		if want != 3 || other != 3 {
			t.Errorf("%d and %d of 3 rows each hold what was sent", want, other)
		}
		e.clean(t)
	})
}

// Keys across the messages of a stream: a key given twice is refused (with
// DUPLICATES_REFUSE) before
// anything is written, naming both rows; with DUPLICATES_KEEP_LAST the last
// row wins and the deletes find every old row of the keys.
func TestStreamKeysAcrossMessages(t *testing.T) {
	t.Parallel()
	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v)
		e.exec(t, `CREATE TABLE t (id bigint, a text, b int); INSERT INTO t VALUES (2, 'old', 1), (2, 'old2', 2), (100, 'other', 3)`)
		cfg := &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, ChunkSize: 2, Duplicates: loadsvcv1.Duplicates_DUPLICATES_REFUSE}
		_, err := send(context.Background(), e.client, cfg, typedIDs(0, 3), typedIDs(5, 1), typedIDs(2, 2))
		wantCode(t, err, codes.InvalidArgument, `rows 2 and 4 have the same key ("id"=2)`)
		if got := e.content(t, "t"); got != "2,old,1 2,old2,2 100,other,3" {
			t.Errorf("the refused stream changed the table: %q", got)
		}
		e.clean(t)

		cfg.Duplicates = loadsvcv1.Duplicates_DUPLICATES_KEEP_LAST
		last := typedIDs(2, 2)
		last.TypedRows.Columns[1].Texts = []string{"last2", "last3"}
		resp, err := send(context.Background(), e.client, cfg, typedIDs(0, 3), typedIDs(5, 1), last)
		if err != nil {
			t.Fatal(err)
		}
		if resp.DuplicatesDropped != 1 || resp.Deleted != 2 || resp.Inserted != 5 || resp.Rows != 6 {
			t.Errorf("response %v", resp)
		}
		if got := e.content(t, "t"); got != "0,a0,- 1,a1,- 2,last2,- 3,last3,- 5,a5,- 100,other,3" {
			t.Errorf("table %q", got)
		}
		e.clean(t)
	})
}
