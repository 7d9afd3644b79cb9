package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the attack's compression
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

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
