package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the attack's compression
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// rawCodec sends a message's wire bytes as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// emptyRowsBomb is a LoadRequest of size bytes, nearly all of it empty
// rows ({"rows":[{},{},…]}: two bytes a row on the wire).
func emptyRowsBomb(t *testing.T, size int) []byte {
	t.Helper()
	head, err := proto.Marshal(&loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}})
	if err != nil {
		t.Fatal(err)
	}
	return append(head, bytes.Repeat([]byte{0x12, 0x00}, (size-len(head))/2)...)
}

// Issue 10 #2, without a token: a gzip body of about 65 KB that inflates
// to 64 MiB of empty rows (about 33 million of them) is refused
// UNAUTHENTICATED from its headers, and the server's peak RSS grows by
// less than 200 MiB (the bound) — in fact by less than the 64 MiB
// body, which is never inflated. Before the tap handle the body was
// inflated and decoded first: +2.0 GB with structpb rows, still +130 MiB
// with the wire decoder.
func TestUnauthenticatedGzipBombCostsNoMemory(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	adminExec(t, url, `CREATE TABLE t (id int)`)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("tok-0123456789abcdef-secret name=worker-a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, []string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_AUTH_TOKENS_FILE=" + tokens})
	body := emptyRowsBomb(t, 64<<20-1024)
	before := p.peakRSS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var reply []byte
	err := p.conn.Invoke(ctx, "/loadsvc.v1.LoadService/Load", &body, &reply,
		grpc.ForceCodec(rawCodec{}), grpc.UseCompressor("gzip"))
	after := p.peakRSS(t)
	t.Logf("%s body (%d empty rows), gzip, no token: %v; server peak RSS %s before, %s after, +%s",
		mib(int64(len(body))), len(body)/2, status.Code(err), mib(before), mib(after), mib(after-before))
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("no token: %v, want UNAUTHENTICATED", err)
	}
	if after-before >= 32<<20 {
		t.Errorf("peak RSS grew by %s, want < 200 MiB, and < 32 MiB since the 64 MiB body must not be inflated", mib(after-before))
	}
	if n := adminCount(t, url, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("table has %d rows", n)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Issue 10 #2, with a valid token: the same 64 MiB of empty rows is counted
// on the wire and refused RESOURCE_EXHAUSTED (past LOADSVC_MAX_ROWS) without
// being decoded; the server's peak RSS grows by less than 300 MiB (the
// inflated body itself is 64 MiB). Before: 3.1 GB and OK.
func TestAuthenticatedGzipBombRefusedByRowCount(t *testing.T) {
	t.Parallel()
	p, url := bombTarget(t)
	body := emptyRowsBomb(t, 64<<20-1024)
	before := p.peakRSS(t)
	err := p.invokeRaw(t, body, true)
	after := p.peakRSS(t)
	t.Logf("%s body (%d empty rows), gzip, valid token: %v; server peak RSS %s before, %s after, +%s",
		mib(int64(len(body))), len(body)/2, status.Code(err), mib(before), mib(after), mib(after-before))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "LOADSVC_MAX_ROWS") {
		t.Errorf("valid token: %v, want RESOURCE_EXHAUSTED naming LOADSVC_MAX_ROWS", err)
	}
	if after-before >= 300<<20 {
		t.Errorf("peak RSS grew by %s, want < 300 MiB", mib(after-before))
	}
	if n := adminCount(t, url, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("table has %d rows", n)
	}
}

// Issue 10 #1: a plan-only Load whose first row has 5,000 distinct keys,
// followed by 30,000 empty rows (about 190 KB), is refused INVALID_ARGUMENT
// for its columns before any rows × columns allocation; the server's peak
// RSS stays under 300 MiB. Before: 6.4 GB.
func TestColumnUnionBombRefused(t *testing.T) {
	t.Parallel()
	p, _ := bombTarget(t)
	wide := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for i := range 5000 {
		wide.Fields[fmt.Sprintf("c%d", i)] = structpb.NewNullValue()
	}
	req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"c0"}, PlanOnly: true}, Rows: []*structpb.Struct{wide}}
	for range 30000 {
		req.Rows = append(req.Rows, &structpb.Struct{})
	}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	err = p.invokeRaw(t, body, false)
	peak := p.peakRSS(t)
	t.Logf("%s body, 5,000 keys then 30,000 empty rows, plan-only: %v; server peak RSS %s", mib(int64(len(body))), status.Code(err), mib(peak))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "at most 1600 distinct columns") {
		t.Errorf("got %v, want INVALID_ARGUMENT naming the 1,600-column limit", err)
	}
	if peak >= 300<<20 {
		t.Errorf("server peak RSS %s, want < 300 MiB", mib(peak))
	}
}

const bombToken = "tok-0123456789abcdef-secret"

// bombTarget runs the binary with a token, a table t and env besides.
func bombTarget(t *testing.T, env ...string) (*binProc, string) {
	t.Helper()
	url := cluster.NewDatabase(t)
	adminExec(t, url, `CREATE TABLE t (id int)`)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(bombToken+" name=worker-a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startBinary(t, append([]string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_AUTH_TOKENS_FILE=" + tokens}, env...)), url
}

// invokeRaw sends body as a Load request with the token, gzip-compressed
// when gz.
func (p *binProc) invokeRaw(t *testing.T, body []byte, gz bool) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return p.invokeRawCtx(ctx, body, gz)
}

// invokeRawCtx sends body as a Load request with the token while ctx
// lasts, gzip-compressed when gz.
func (p *binProc) invokeRawCtx(ctx context.Context, body []byte, gz bool) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+bombToken)
	opts := []grpc.CallOption{grpc.ForceCodec(rawCodec{})}
	if gz {
		opts = append(opts, grpc.UseCompressor("gzip"))
	}
	var reply []byte
	return p.conn.Invoke(ctx, "/loadsvc.v1.LoadService/Load", &body, &reply, opts...)
}
