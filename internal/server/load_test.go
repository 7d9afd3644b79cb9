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

// A unary request of thousands of rows, some of which leave a column out,
// arrives whole: every row in the table with its own values and its NULLs.
func TestUnaryLoadRowsArriveWhole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id int, v text, x float8)`)
	maps := make([]map[string]any, 5000)
	for i := range maps {
		maps[i] = map[string]any{"id": i, "v": "v" + itoa(i), "x": float64(i) + 0.25}
		if i%3 == 0 {
			delete(maps[i], "x") // NULL, whatever the slice before held there
		}
	}
	resp, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: rows(t, maps...)})
	if err != nil || resp.Inserted != 5000 {
		t.Fatalf("load: %v %v", resp, err)
	}
	if n := b.count(t, `SELECT count(DISTINCT id) FROM t WHERE v = 'v' || id AND x IS NOT DISTINCT FROM CASE WHEN id % 3 <> 0 THEN id + 0.25 END`); n != 5000 {
		t.Fatalf("%d of 5000 rows arrived whole", n)
	}
}
