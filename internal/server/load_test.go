package server_test

import (
	"context"
	"testing"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

func TestLoadDeleteInsertSmoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text, g int GENERATED ALWAYS AS (id * 2) STORED)`)
	b.exec1(t, `INSERT INTO t (id, v) VALUES (1, 'old'), (3, 'keep')`)
	resp, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}},
		Rows:   rows(t, map[string]any{"id": 1, "v": "new"}, map[string]any{"id": 2, "v": "two", "g": 5}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v", resp)
	if resp.Deleted != 1 || resp.Inserted != 2 || resp.Mode != loadsvcv1.Mode_MODE_DELETE_INSERT {
		t.Errorf("got %v", resp)
	}
	if n := b.count(t, `SELECT count(*) FROM t WHERE (id = 1 AND v = 'new') OR (id = 2 AND g = 4) OR (id = 3 AND v = 'keep')`); n != 3 {
		t.Errorf("table has %d matching rows, want 3", n)
	}
}
