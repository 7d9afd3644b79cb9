package server_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// A load session's commit is a load of the history: recorded committed in
// its transaction, its rows stamped with its load id; its delete limit
// refuses a commit that would delete more, which writes nothing.
func TestSessionCommitHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text, stamp uuid); INSERT INTO t SELECT g, 'old' FROM generate_series(1, 5) g`)
	ctx := context.Background()

	guarded := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_REPLACE, MaxDeletedRows: 4, StampColumn: "stamp"})
	if _, err := b.appendRows(ctx, t, guarded.SessionId, "w", 0, 10, 2); err != nil {
		t.Fatal(err)
	}
	_, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: guarded.SessionId})
	st := wantCode(t, err, codes.FailedPrecondition, "the load would delete 5 rows")
	if r := errorInfo(t, st).GetReason(); r != "DELETE_LIMIT_EXCEEDED" {
		t.Errorf("reason %s", r)
	}
	if n := b.count(t, `SELECT count(*) FROM t WHERE v = 'old' AND stamp IS NULL`); n != 5 {
		t.Errorf("the refused commit changed t: %d old rows left of 5", n)
	}

	s := b.begin(t, ctx, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, StampColumn: "stamp", Labels: map[string]string{"source": "s.csv"}})
	if _, err := b.appendRows(ctx, t, s.SessionId, "w", 0, 4, 3); err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM t WHERE stamp::text = $1 AND id IN (4, 5, 6)`, resp.LoadId); resp.LoadId == "" || n != 3 {
		t.Errorf("%d rows carry the commit's load id %q, want 3", n, resp.LoadId)
	}
	rec := testenv.Texts(t, b.admin, `SELECT concat_ws(' ', status, code, inserted, deleted, labels->>'source') FROM loadsvc.load_history WHERE load_id = '`+resp.LoadId+`'`)
	if len(rec) != 1 || rec[0] != "committed OK 3 2 s.csv" {
		t.Errorf("the commit is recorded as %v, want committed OK 3 2 s.csv", rec)
	}
}
