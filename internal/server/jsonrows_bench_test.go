package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// BenchmarkJSONRows decodes requests of 10,000 rows shaped like loadbench's
// (three strings, three numbers, one more string), as Load does.
func BenchmarkJSONRows(b *testing.B) {
	msg := benchRequest(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		src := scanned(b, msg)
		for {
			_, err := src.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
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

// BenchmarkJSONScan is the part of BenchmarkJSONRows that PostgreSQL waits
// for: the split and the scan of a unary request, before its connection.
func BenchmarkJSONScan(b *testing.B) {
	msg := benchRequest(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		scanned(b, msg)
	}
}

// scanned is a unary request's row source, as Load makes it: the message
// split, its rows counted and scanned.
func scanned(b *testing.B, msg []byte) loader.Source {
	p, err := (&message{buf: msg}).split()
	if err != nil {
		b.Fatal(err)
	}
	src, err := p.rowSource(&loader.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return src
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
		p, err := (&message{buf: msg}).split()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.decodeRows(&loader.Config{}, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
}
