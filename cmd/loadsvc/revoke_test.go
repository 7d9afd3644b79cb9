package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// writeTokens writes a token file and returns its path.
func writeTokens(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	replaceFile(t, path, content)
	return path
}

// replaceFile replaces path atomically, as a Secret volume or an operator
// following the README does.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// withToken is ctx carrying "authorization: Bearer token".
func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// waitOpenTransactions waits until n sessions of the database at url other
// than the caller's have a transaction open: n streams' loads are running.
func waitOpenTransactions(t *testing.T, url string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for adminCount(t, url, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams' loads never opened their transactions", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 10 #8: a token removed from the token file ends the LoadStream it
// authenticated — left open in the middle of its load — within one reload
// interval; nothing of it is written, and the token that stays loads on.
func TestRemovedTokenEndsItsStream(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	adminExec(t, url, tableDDL)
	const gone, kept = "tok-gone-0123456789abcdef", "tok-kept-0123456789abcdef"
	tokens := writeTokens(t, gone+" name=worker-a\n"+kept+" name=worker-b\n")
	p := start(t, []string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_AUTH_TOKENS_FILE=" + tokens, "LOADSVC_RELOAD_INTERVAL=200ms"})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := p.client.LoadStream(withToken(ctx, gone))
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []*loadsvcv1.LoadStreamRequest{
		{Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}},
		{Rows: jsonRows(t, 0, 500)},
	} {
		if err := stream.Send(msg); err != nil {
			t.Fatal(err)
		}
	}
	waitOpenTransactions(t, url, 1)
	replaceFile(t, tokens, kept+" name=worker-b\n")
	removed := time.Now()
	var resp loadsvcv1.LoadResponse
	err = stream.RecvMsg(&resp) // the client never closes its side
	took := time.Since(removed)
	t.Logf("the stream ended %v after its token was removed: %v", took.Round(time.Millisecond), err)
	if c := status.Code(err); c != codes.Canceled && c != codes.Unauthenticated {
		t.Errorf("stream of the removed token: %v, want CANCELLED or UNAUTHENTICATED", err)
	}
	if took > 3*time.Second {
		t.Errorf("the stream ended %v after the removal; the reload interval is 200ms", took)
	}
	if n := adminCount(t, url, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("the ended stream wrote %d rows", n)
	}
	_, err = p.client.Load(withToken(ctx, kept), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, 0, 3)})
	if err != nil {
		t.Errorf("the kept token: %v", err)
	}
	if _, err := p.client.Load(withToken(ctx, gone), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, 0, 3)}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("the removed token: %v", err)
	}
}
