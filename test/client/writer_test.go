package client_test

import (
	"github.com/loadsvc/loadsvc/client"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// TestWriterStreams100kRows streams 100,000 rows through one reused Row map
// and checks that the Writer never holds more than one batch: its arrays
// stay the size of a batch, whatever the stream's length.
func TestWriterStreams100kRows(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE big (id bigint PRIMARY KEY, v text, f double precision, at timestamptz, raw bytea)")
	const total, batchRows = 100_000, 2_000
	w, err := e.dial(t, client.Options{}).NewWriter(ctxTimeout(t, 60*time.Second),
		&loadsvcv1.LoadConfig{Table: "big", Mode: loadsvcv1.Mode_MODE_APPEND}, client.WriterOptions{BatchRows: batchRows})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	row := client.Row{}
	buf := make([]byte, 8)
	for i := range total {
		row["id"], row["v"], row["f"], row["at"] = i, "v", float64(i)/4, epoch.Add(time.Duration(i)*time.Second)
		buf[0] = byte(i) // the Writer copies []byte values: reusing buf is safe
		row["raw"] = buf
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetInserted() != total || resp.GetRows() != total || w.Rows() != total {
		t.Fatalf("inserted %d of %d rows, writer counted %d; want %d", resp.GetInserted(), resp.GetRows(), w.Rows(), total)
	}
	got := e.texts(t, `SELECT concat_ws(' ', count(*), sum(id), sum(f), max(at), count(DISTINCT raw)) FROM big`)
	want := []string{"100000 4999950000 1249987500 2024-01-02 03:46:39+00 256"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("table holds %q, want %q", got, want)
	}
}

func TestWriterAbortWritesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE t (id int PRIMARY KEY, v text)")
	w, err := e.dial(t, client.Options{}).NewWriter(ctxTimeout(t, 30*time.Second),
		&loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}, client.WriterOptions{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 { // ten messages sent
		if err := w.Write(client.Row{"id": i, "v": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	w.Abort()
	wantError(t, w.Write(client.Row{"id": 1000}), codes.Canceled)
	_, err = w.Close()
	wantError(t, err, codes.Canceled)
	e.idle(t)
	if n := e.count(t, "SELECT count(*) FROM t"); n != 0 {
		t.Fatalf("an aborted writer left %d rows", n)
	}
}

// TestWriterColumns checks that later rows may leave a column out but not
// add one, and that the refusal leaves the Writer usable.
func TestWriterColumns(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE t (id int PRIMARY KEY, v text, w text)")
	w, err := e.dial(t, client.Options{}).NewWriter(ctxTimeout(t, 30*time.Second),
		&loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, client.WriterOptions{BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, r := range []client.Row{{"id": 1, "v": "a"}, {"id": 2}, {"id": 3}} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	err = w.Write(client.Row{"id": 4, "w": "new"})
	got := wantError(t, err, codes.InvalidArgument)
	if got.Field != "rows[3].w" || got.Row != 3 || !strings.Contains(got.Message, `adds column "w"`) {
		t.Fatalf("new column: field %q row %d message %q", got.Field, got.Row, got.Message)
	}
	if err := w.Write(client.Row{"id": 4, "v": "d"}); err != nil {
		t.Fatal(err)
	}
	resp, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetInserted() != 4 || w.Rows() != 4 {
		t.Fatalf("inserted %d, writer counted %d; want 4", resp.GetInserted(), w.Rows())
	}
	if got, want := e.texts(t, "SELECT coalesce(v, 'NULL') FROM t ORDER BY id"), []string{"a", "NULL", "NULL", "d"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("v is %q, want %q", got, want)
	}
	if _, err := w.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	wantError(t, w.Write(client.Row{"id": 5}), codes.FailedPrecondition)
}

func TestWriterErrorsCarryTheDetails(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, "CREATE TABLE t (id int PRIMARY KEY)")
	e.exec(t, "INSERT INTO t VALUES (7)")
	w, err := e.dial(t, client.Options{}).NewWriter(ctxTimeout(t, 30*time.Second), appendT, client.WriterOptions{BatchRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i := range 20 {
		if err := w.Write(client.Row{"id": i}); err != nil {
			wantError(t, err, codes.AlreadyExists) // the service may already have refused
			break
		}
	}
	_, err = w.Close()
	got := wantError(t, err, codes.AlreadyExists)
	if got.SQLState != "23505" || got.Constraint != "t_pkey" || got.Detail != "Key (id)=(7) already exists." {
		t.Fatalf("duplicate key: %+v", got)
	}
	if n := e.count(t, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("a failed stream left %d rows, want the 1 from before", n)
	}
}
