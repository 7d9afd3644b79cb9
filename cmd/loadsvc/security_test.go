package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Tokens, the table allowlist and the metrics listener, wired in the real
// binary: no token → UNAUTHENTICATED, a table outside the allowlist →
// PERMISSION_DENIED before any connection, and /metrics counts the loads —
// with no token in any log line or label.
func TestTokensAllowlistAndMetrics(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	adminExec(t, url, tableDDL+`; CREATE TABLE secret (id int)`)
	tokens := filepath.Join(t.TempDir(), "tokens")
	const token = "tok-0123456789abcdef-secret"
	if err := os.WriteFile(tokens, []byte(token+" name=worker-a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	metricsAddr := testenv.FreeAddr(t)
	p := start(t, []string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_AUTH_TOKENS_FILE=" + tokens,
		"LOADSVC_ALLOW_TABLES=public.t", "LOADSVC_METRICS_LISTEN=" + metricsAddr})
	req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, 0, 3)}

	_, err := p.client.Load(context.Background(), req)
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	resp, err := p.client.Load(ctx, req)
	if err != nil || resp.Inserted != 3 {
		t.Fatalf("with token: %v %v", resp, err)
	}
	_, err = p.client.Load(ctx, &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "secret", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: jsonRows(t, 0, 1)})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("table outside the allowlist: %v", err)
	}

	r, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !regexp.MustCompile(`loadsvc_loads_total\{code="OK",[^}]*method="Load",mode="delete_insert"`).Match(body) {
		t.Error("/metrics lacks the OK delete_insert Load")
	}
	if !strings.Contains(string(body), "loadsvc_pool_acquire_count_total") {
		t.Error("/metrics lacks loadsvc_pool_acquire_count_total")
	}
	if strings.Contains(string(body)+p.out.String(), token) {
		t.Error("the token reached the metrics or the log")
	}
}
