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
	// typed are LoadStreamRequest messages of msgRows typed rows each.
	typed      [][]byte
	typedBytes int64
	// json are LoadRequest messages (append, chunk_size = their rows) of
	// jsonBatch Struct rows each; jsonRows[i] is the row count of json[i].
	json      [][]byte
	jsonRows  []int
	jsonBytes int64
}

// buildDataset makes the forms the figures to run need.
func buildDataset(dir string, o *options) (*dataset, error) {
	d := &dataset{rows: o.Rows, csvPath: filepath.Join(dir, "rows.csv")}
	if o.runs("copy") || o.runs("staged_delete_insert") {
		n, err := writeCSVFile(d.csvPath, 0, o.Rows, false)
		if err != nil {
			return nil, err
		}
		d.csvBytes = n
	}
	typed := o.runs("stream_append") || o.runs("stream_delete_insert") || o.Big
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
	return d, nil
}

// writeCSVFile writes rows [from, to) as CSV to path and returns its size.
func writeCSVFile(path string, from, to int, stale bool) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, &csvReader{next: from, to: to, stale: stale})
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
	stale    bool
	buf      []byte
}

func (r *csvReader) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) && r.next < r.to {
		w := genRow(r.next, r.stale)
		r.buf = appendCSV(r.buf, &w)
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
	tr := &loadsvcv1.TypedRows{}
	for j, name := range columns {
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
