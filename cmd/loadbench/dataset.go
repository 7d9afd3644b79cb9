package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// dataset is the benchmark's rows [0, rows), generated once in every form a
// figure sends: a CSV file for psql, and for loadsvc the request messages
// already in wire form, so that during a timed figure the client does no more
// than write bytes to its socket (see rawCodec).
type dataset struct {
	rows     int
	csvPath  string
	csvBytes int64
	// csvParts are the same rows as CSV files of jsonBatch rows each, as
	// (b) sends them, for psql to copy one transaction each.
	csvParts []string
	// typed are LoadStreamRequest messages of msgRows typed rows each.
	typed      [][]byte
	typedBytes int64
	// json are LoadRequest messages (append, chunk_size = their rows) of
	// jsonBatch Struct rows each; jsonRows[i] is the row count of json[i].
	json      [][]byte
	jsonRows  []int
	jsonBytes int64
	// navRows are the rows as Go values, for pgx CopyFrom.
	navRows []row
	// The refresh table's fresh rows: a CSV file for psql, typed
	// LoadStreamRequests of msgRows rows, and their sum(closing_assets).
	refreshCSVPath string
	refreshTyped   [][]byte
	refreshClosing string
}

// buildDataset makes the forms the figures to run need.
func buildDataset(dir string, o *options) (*dataset, error) {
	d := &dataset{rows: o.Rows, csvPath: filepath.Join(dir, "rows.csv")}
	if o.runs("copy") || o.runs("staged_delete_insert") || o.Big {
		n, err := writeCSVFile(d.csvPath, navCSV(0, o.Rows, false))
		if err != nil {
			return nil, err
		}
		d.csvBytes = n
	}
	for from := 0; o.runs("batched_copy") && from < o.Rows; from += o.JSONBatch {
		path := filepath.Join(dir, fmt.Sprintf("rows-%07d.csv", from))
		if _, err := writeCSVFile(path, navCSV(from, min(from+o.JSONBatch, o.Rows), false)); err != nil {
			return nil, err
		}
		d.csvParts = append(d.csvParts, path)
	}
	typed := o.runs("stream_append") || o.runs("stream_delete_insert") || o.runs("bad_rows") || o.runs("session_parallel") || o.Big
	for from := 0; typed && from < o.Rows; from += o.MsgRows {
		b, err := proto.Marshal(typedMessage(from, min(from+o.MsgRows, o.Rows), false))
		if err != nil {
			return nil, err
		}
		d.typed = append(d.typed, b)
		d.typedBytes += int64(len(b))
	}
	for from := 0; o.runs("load_json") && from < o.Rows; from += o.JSONBatch {
		to := min(from+o.JSONBatch, o.Rows)
		b, err := proto.Marshal(jsonRequest(from, to))
		if err != nil {
			return nil, err
		}
		d.json = append(d.json, b)
		d.jsonRows = append(d.jsonRows, to-from)
		d.jsonBytes += int64(len(b))
	}
	for i := 0; o.runs("pgx_copy") && i < o.Rows; i++ {
		d.navRows = append(d.navRows, genRow(i, false))
	}
	if o.runs("staged_refresh_delete_insert") || o.runs("refresh_delete_insert") {
		if err := d.buildRefresh(dir, o); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// buildRefresh makes the refresh figures' forms of the rows.
func (d *dataset) buildRefresh(dir string, o *options) error {
	d.refreshCSVPath = filepath.Join(dir, "refresh.csv")
	if _, err := writeCSVFile(d.refreshCSVPath, refreshCSV(o.Rows, freshBatch)); err != nil {
		return err
	}
	msgs, err := refreshMessages(o.Rows, o.MsgRows)
	if err != nil {
		return err
	}
	d.refreshTyped, d.refreshClosing = msgs, refreshClosingSum(o.Rows)
	return nil
}

// writeCSVFile writes what rows reads to path and returns its size.
func writeCSVFile(path string, rows io.Reader) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, rows)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return n, nil
}

// csvReader is rows [next, to) as CSV, generated as they are read.
type csvReader struct {
	next, to int
	line     func(b []byte, i int) []byte // appends row i as one CSV line
	buf      []byte
}

// navCSV is rows [from, to) of the benchmark table, fresh or stale, as CSV.
func navCSV(from, to int, stale bool) *csvReader {
	return &csvReader{next: from, to: to, line: func(b []byte, i int) []byte {
		w := genRow(i, stale)
		return appendCSV(b, &w)
	}}
}

func (r *csvReader) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) && r.next < r.to {
		r.buf = r.line(r.buf, r.next)
		r.next++
	}
	if len(r.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.buf)
	r.buf = r.buf[:copy(r.buf, r.buf[n:])]
	return n, nil
}

var _ io.Reader = (*csvReader)(nil)

// typedMessage is rows [from, to) as one LoadStreamRequest of typed rows.
// Every value travels as PostgreSQL input text; numerics as exact decimals.
func typedMessage(from, to int, stale bool) *loadsvcv1.LoadStreamRequest {
	n := to - from
	cols := make([][]string, len(columns))
	for j := range cols {
		cols[j] = make([]string, 0, n)
	}
	var buf []byte
	for i := from; i < to; i++ {
		w := genRow(i, stale)
		cols[0] = append(cols[0], w.date())
		cols[1] = append(cols[1], w.planCode())
		cols[2] = append(cols[2], w.compCode())
		buf = appendScaled(buf[:0], w.returnRate, 6)
		cols[3] = append(cols[3], string(buf))
		buf = appendScaled(buf[:0], w.nav, 4)
		cols[4] = append(cols[4], string(buf))
		buf = appendScaled(buf[:0], w.scale, 2)
		cols[5] = append(cols[5], string(buf))
		cols[6] = append(cols[6], w.source)
	}
	return typedRequest(columns, cols)
}

// typedRequest is one LoadStreamRequest of typed rows: cols[j] holds the
// texts of column names[j].
func typedRequest(names []string, cols [][]string) *loadsvcv1.LoadStreamRequest {
	tr := &loadsvcv1.TypedRows{}
	for j, name := range names {
		tr.Columns = append(tr.Columns, &loadsvcv1.TypedColumn{Name: name, Texts: cols[j]})
	}
	return &loadsvcv1.LoadStreamRequest{TypedRows: tr}
}

// jsonRequest is rows [from, to) as one append Load request of JSON rows,
// the way a worker holding parsed JSON sends them: dates and codes as
// strings, the numerics as JSON numbers.
func jsonRequest(from, to int) *loadsvcv1.LoadRequest {
	req := &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: tableName, Mode: loadsvcv1.Mode_MODE_APPEND, ChunkSize: int32(to - from)},
		Rows:   make([]*structpb.Struct, 0, to-from),
	}
	for i := from; i < to; i++ {
		w := genRow(i, false)
		req.Rows = append(req.Rows, &structpb.Struct{Fields: map[string]*structpb.Value{
			"report_date":  structpb.NewStringValue(w.date()),
			"plan_code":    structpb.NewStringValue(w.planCode()),
			"company_code": structpb.NewStringValue(w.compCode()),
			"return_rate":  structpb.NewNumberValue(scaledFloat(w.returnRate, 6)),
			"nav":          structpb.NewNumberValue(scaledFloat(w.nav, 4)),
			"scale":        structpb.NewNumberValue(scaledFloat(w.scale, 2)),
			"data_source":  structpb.NewStringValue(w.source),
		}})
	}
	return req
}
