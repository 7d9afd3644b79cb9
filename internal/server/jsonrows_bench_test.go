package server

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// BenchmarkJSONRows decodes requests of 10,000 rows shaped like loadbench's
// (three strings, three numbers, one more string), as Load does: split,
// scanned, then filled into one batch.
func BenchmarkJSONRows(b *testing.B) {
	msg := benchRequest(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		p := split(b, msg)
		if _, err := p.decodeRows(context.Background(), &loader.Config{}, nil, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRequest is a Load request of 10,000 rows shaped like loadbench's.
func benchRequest(b *testing.B) []byte {
	req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}}
	for i := range 10000 {
		req.Rows = append(req.Rows, &structpb.Struct{Fields: map[string]*structpb.Value{
			"report_date":  structpb.NewStringValue("2024-11-01"),
			"plan_code":    structpb.NewStringValue(fmt.Sprintf("P%05d", i)),
			"company_code": structpb.NewStringValue("C01"),
			"return_rate":  structpb.NewNumberValue(0.012345),
			"nav":          structpb.NewNumberValue(1.2345 + float64(i)),
			"scale":        structpb.NewNumberValue(123456.78),
			"data_source":  structpb.NewStringValue("bench"),
		}})
	}
	msg, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	return msg
}

// BenchmarkJSONScan is the first of BenchmarkJSONRows' two walks: the
// split and the scan, which check every value and count the batch.
func BenchmarkJSONScan(b *testing.B) {
	msg := benchRequest(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		p := split(b, msg)
		if err := newJSONRows(context.Background(), p.msg, p.rows, 0, nil).scan(); err != nil {
			b.Fatal(err)
		}
	}
}

func split(b *testing.B, msg []byte) parts {
	p, err := (&message{buf: msg}).split()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkTypedRows decodes LoadStream messages of 5,000 typed rows shaped
// like loadbench's: seven text columns.
func BenchmarkTypedRows(b *testing.B) {
	names := []string{"report_date", "plan_code", "company_code", "return_rate", "nav", "scale", "data_source"}
	tr := &loadsvcv1.TypedRows{}
	for j, name := range names {
		c := &loadsvcv1.TypedColumn{Name: name}
		for i := range 5000 {
			c.Texts = append(c.Texts, fmt.Sprintf("%c%08d", 'a'+j, i))
		}
		tr.Columns = append(tr.Columns, c)
	}
	msg, err := proto.Marshal(&loadsvcv1.LoadStreamRequest{TypedRows: tr})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := split(b, msg).decodeRows(context.Background(), &loader.Config{}, nil, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
}
