package auth_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/auth"
)

func mustAllowlist(t *testing.T, s string) *auth.Allowlist {
	t.Helper()
	a, err := auth.ParseAllowlist(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustPolicy(t *testing.T, s string) *auth.Policy {
	t.Helper()
	p, err := auth.NewPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyAllow(t *testing.T) {
	t.Parallel()
	worker := auth.NewContext(context.Background(), auth.Principal{Name: "worker-a", Tables: mustAllowlist(t, "staging.nav_*,public.demo_nav")})
	open := auth.NewContext(context.Background(), auth.Principal{Name: "admin"})
	none := context.Background()
	for _, tc := range []struct {
		name          string
		global        string
		ctx           context.Context
		schema, table string
		want          string // resolved schema; "" = refused
		refusedBy     string // "service" or "token"
	}{
		{"no allowlist keeps empty schema", "", none, "", "t", "", ""},
		{"no allowlist keeps schema", "", open, "x", "t", "x", ""},
		{"global resolves empty schema", "public.*", none, "", "t", "public", ""},
		{"global allows", "public.*,staging.*", open, "staging", "nav_1", "staging", ""},
		{"global refuses", "public.*", open, "staging", "nav_1", "", "service"},
		{"global refuses empty schema outside public", "staging.*", none, "", "nav_1", "", "service"},
		{"token list alone resolves schema", "", worker, "", "demo_nav", "public", ""},
		{"token list alone allows", "", worker, "staging", "nav_x", "staging", ""},
		{"token list refuses", "", worker, "staging", "orders", "", "token"},
		{"both allow", "*.*", worker, "staging", "nav_x.v2", "staging", ""},
		{"global allows, token refuses", "public.*", worker, "public", "other", "", "token"},
		{"token allows, global refuses", "public.*", worker, "staging", "nav_1", "", "service"},
		{"unicode and dots", "年金.*", none, "年金", "计划.v1", "年金", ""},
	} {
		got, err := mustPolicy(t, tc.global).Allow(tc.ctx, tc.schema, tc.table)
		if tc.refusedBy == "" {
			if err != nil || got != tc.want {
				t.Errorf("%s: Allow = %q, %v; want %q", tc.name, got, err, tc.want)
			}
			continue
		}
		checkRefusal(t, tc.name, err, tc.refusedBy)
	}
}

// checkRefusal checks a PERMISSION_DENIED status naming the table and the
// allowlist that refused it.
func checkRefusal(t *testing.T, name string, err error, by string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.PermissionDenied {
		t.Errorf("%s: %v, want PERMISSION_DENIED", name, err)
		return
	}
	want := map[string]string{"service": "LOADSVC_ALLOW_TABLES", "token": `token "worker-a"`}[by]
	if !strings.Contains(st.Message(), want) || !strings.Contains(st.Message(), "is not allowed") {
		t.Errorf("%s: message %q should say it is not allowed by %s", name, st.Message(), want)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == auth.ReasonTableNotAllowed && info.GetMetadata()["allowlist"] == by {
			return
		}
	}
	t.Errorf("%s: no ErrorInfo %s with allowlist=%s in %v", name, auth.ReasonTableNotAllowed, by, st.Details())
}

func TestPolicyMessageNamesTable(t *testing.T) {
	t.Parallel()
	_, err := mustPolicy(t, "public.*").Allow(context.Background(), "staging", "年金.计划")
	if msg := status.Convert(err).Message(); !strings.Contains(msg, `"staging"."年金.计划"`) {
		t.Errorf("message %q should name the table", msg)
	}
}

func TestNewPolicyErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{" ", "public", "public.*,"} {
		if _, err := auth.NewPolicy(s); err == nil || !strings.Contains(err.Error(), "LOADSVC_ALLOW_TABLES") {
			t.Errorf("NewPolicy(%q): %v, want an error naming LOADSVC_ALLOW_TABLES", s, err)
		}
	}
}
