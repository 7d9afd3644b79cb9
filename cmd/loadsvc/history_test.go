package main

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// With tokens, ListLoads shows a token only the records of tables its
// allowlist lets it write; a token without a list sees every record; no
// token is UNAUTHENTICATED. The record names the principal, and the access
// line the load id.
func TestListLoadsScopedByToken(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	adminExec(t, url, `CREATE TABLE a `+navDDL+`; CREATE TABLE b `+navDDL)
	const tokA, tokB, tokAll = "tok-a-0123456789abcdef", "tok-b-0123456789abcdef", "tok-all-0123456789abcd"
	tokens := writeTokens(t, tokA+" name=wa tables=public.a\n"+tokB+" name=wb tables=public.b\n"+tokAll+" name=ops\n")
	p := start(t, []string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_AUTH_TOKENS_FILE=" + tokens})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := map[string][]string{}
	for _, l := range []struct{ token, table string }{{tokA, "a"}, {tokB, "b"}, {tokA, "a"}, {tokAll, "b"}} {
		resp, err := p.client.Load(withToken(ctx, l.token), appendRequest(t, l.table, "", 0))
		if err != nil {
			t.Fatal(err)
		}
		ids[l.table] = append([]string{resp.LoadId}, ids[l.table]...)
		if !strings.Contains(p.out.String(), `"load_id":"`+resp.LoadId+`"`) {
			t.Errorf("no access line names load_id %s", resp.LoadId)
		}
	}
	list := func(token string) (got []string, principals []string) {
		resp, err := p.client.ListLoads(withToken(ctx, token), &loadsvcv1.ListLoadsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Loads {
			got = append(got, r.LoadId)
			principals = append(principals, r.Principal)
		}
		return got, principals
	}
	if got, who := list(tokA); !slices.Equal(got, ids["a"]) || !slices.Equal(who, []string{"wa", "wa"}) {
		t.Errorf("token a lists %v by %v, want a's %v by wa", got, who, ids["a"])
	}
	if got, who := list(tokB); !slices.Equal(got, ids["b"]) || !slices.Equal(who, []string{"ops", "wb"}) {
		t.Errorf("token b lists %v by %v, want b's %v by ops and wb", got, who, ids["b"])
	}
	if got, _ := list(tokAll); len(got) != 4 {
		t.Errorf("the token without a list sees %d records, want all 4", len(got))
	}
	if _, err := p.client.ListLoads(ctx, &loadsvcv1.ListLoadsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListLoads without a token: %v, want UNAUTHENTICATED", err)
	}
}

// The service prunes the history at start, of records older than
// LOADSVC_HISTORY_RETENTION (here 2h), and keeps the newer; a retention
// that does not parse stops the start, naming it.
func TestHistoryPrunedAtStart(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	exec := &pgexec.Executor{Pool: testenv.NewPool(t, url, 1)}
	if err := exec.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for age, n := range map[string]int{"3 hours": 4, "1 hour": 2} {
		adminExec(t, url, `INSERT INTO loadsvc.load_history (load_id, status, principal, peer, schema, "table", mode, request_id, labels,
			rows, inserted, updated, deleted, skipped, rejected, started_at, finished_at, duration, code, sqlstate, message)
			SELECT gen_random_uuid(), 'failed', '', '', 'public', 't', 'append', '', '{}', 0, 0, 0, 0, 0, 0,
			  now() - interval '`+age+`', now() - interval '`+age+`', interval '0', 'INTERNAL', '', ''
			FROM generate_series(1, `+strconv.Itoa(n)+`)`)
	}
	p := start(t, []string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_HISTORY_RETENTION=2h"})
	testenv.WaitUntil(t, 10*time.Second, "the records older than 2h pruned", func() bool {
		return adminCount(t, url, `SELECT count(*) FROM loadsvc.load_history WHERE started_at < now() - interval '2 hours'`) == 0
	})
	if n := adminCount(t, url, `SELECT count(*) FROM loadsvc.load_history`); n != 2 {
		t.Errorf("%d records kept, want the 2 newer than 2h", n)
	}
	testenv.WaitUntil(t, 10*time.Second, "the prune logged", func() bool {
		return strings.Contains(p.out.String(), `"msg":"load history pruned","deleted":4`)
	})
	out := &testenv.SyncBuffer{}
	err := realMain(context.Background(), []string{"--listen", testenv.FreeAddr(t)}, environ([]string{"LOADSVC_HISTORY_RETENTION=forever"}), out)
	if err == nil || !strings.Contains(err.Error(), `LOADSVC_HISTORY_RETENTION: "forever" is not a retention such as 400d or 720h`) {
		t.Errorf("a retention of forever: %v", err)
	}
}
