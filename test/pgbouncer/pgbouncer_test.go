package pgbouncer

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// modeTable is the starting table of TestModes, %s the key's constraint.
const modeTable = `CREATE TABLE %[1]s (id int %[2]s, a text, b int);
INSERT INTO %[1]s VALUES (1, 'x', NULL), (2, NULL, 20), (3, 'z', 30);`

// Every mode, on tables with and without a unique key, through PgBouncer:
// the table's content and the counts are what they are without it.
func TestModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode   loadsvcv1.Mode
		want   string
		counts [4]int64 // deleted, inserted, updated, skipped
	}{
		{loadsvcv1.Mode_MODE_APPEND, "1,A1,11 1,x,- 2,A2,- 2,-,20 3,z,30 4,A4,44", [4]int64{0, 3, 0, 0}},
		{loadsvcv1.Mode_MODE_DELETE_INSERT, "1,A1,11 2,A2,- 3,z,30 4,A4,44", [4]int64{2, 3, 0, 0}},
		{loadsvcv1.Mode_MODE_UPSERT, "1,A1,11 2,A2,- 3,z,30 4,A4,44", [4]int64{0, 1, 2, 0}},
		{loadsvcv1.Mode_MODE_INSERT_MISSING, "1,x,- 2,-,20 3,z,30 4,A4,44", [4]int64{0, 1, 0, 2}},
		{loadsvcv1.Mode_MODE_FILL_NULL_ONLY, "1,x,11 2,A2,20 3,z,30", [4]int64{0, 0, 2, 1}},
		{loadsvcv1.Mode_MODE_REPLACE, "1,A1,11 2,A2,- 4,A4,44", [4]int64{3, 3, 0, 0}},
	}
	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v)
		t.Cleanup(func() { e.clean(t) })
		for _, c := range cases {
			for _, key := range []string{"PRIMARY KEY", ""} {
				if key != "" && c.mode == loadsvcv1.Mode_MODE_APPEND {
					continue // appending existing keys is TestFailedLoadLeavesNothing
				}
				table := strings.ToLower(strings.TrimPrefix(c.mode.String(), "MODE_")) + map[string]string{"PRIMARY KEY": "_unique", "": "_no_unique"}[key]
				t.Run(table, func(t *testing.T) {
					t.Parallel()
					e.exec(t, strings.NewReplacer("%[1]s", table, "%[2]s", key).Replace(modeTable))
					resp, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
						Config: &loadsvcv1.LoadConfig{Table: table, Mode: c.mode, Pk: []string{"id"}},
						Rows: rows(t,
							map[string]any{"id": 1, "a": "A1", "b": 11},
							map[string]any{"id": 2, "a": "A2", "b": nil},
							map[string]any{"id": 4, "a": "A4", "b": 44}),
					})
					if err != nil {
						t.Fatal(err)
					}
					if got := e.content(t, table); got != c.want {
						t.Errorf("table %q, want %q", got, c.want)
					}
					got := [4]int64{resp.Deleted, resp.Inserted, resp.Updated, resp.Skipped}
					if got != c.counts || resp.Mode != c.mode {
						t.Errorf("counts (deleted, inserted, updated, skipped) %v, want %v; %v", got, c.counts, resp)
					}
				})
			}
		}
	})
}

// A load that fails (a duplicate key) leaves nothing and its server
// connection usable: failures and successes alternate over the shared
// server connections.
func TestFailedLoadLeavesNothing(t *testing.T) {
	t.Parallel()
	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v)
		e.exec(t, `CREATE TABLE t (id int PRIMARY KEY, a text, b int); INSERT INTO t VALUES (5, 'existing', NULL)`)
		ctx := context.Background()
		for i := range 2 * serverPoolSize {
			_, err := e.client.Load(ctx, &loadsvcv1.LoadRequest{
				Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, ChunkSize: 2},
				Rows:   seqRows(t, 1, 6, "new"),
			})
			st := wantCode(t, err, codes.AlreadyExists, `load failed: duplicate key value violates unique constraint "t_pkey"`)
			if s := sqlstate(st); s != "23505" {
				t.Errorf("sqlstate %q", s)
			}
			if got := e.count(t, `SELECT count(*) FROM t WHERE id < 100`); got != 1 {
				t.Fatalf("the failed load left %d rows", got-1)
			}
			_, err = e.client.Load(ctx, &loadsvcv1.LoadRequest{
				Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}},
				Rows:   seqRows(t, 100+i, 1, "ok"),
			})
			if err != nil {
				t.Fatalf("the load after a failed one: %v", err)
			}
		}
		if got := e.count(t, `SELECT count(*) FROM t`); got != 1+2*serverPoolSize {
			t.Errorf("table has %d rows, want %d", got, 1+2*serverPoolSize)
		}
		e.clean(t)
	})
}

// Columns the table generates are left out and reported, through PgBouncer.
func TestGeneratedColumnsSkipped(t *testing.T) {
	t.Parallel()
	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v)
		e.exec(t, `CREATE TABLE g (id int GENERATED ALWAYS AS IDENTITY, k text PRIMARY KEY, n int, twice int GENERATED ALWAYS AS (n * 2) STORED)`)
		for _, mode := range []loadsvcv1.Mode{loadsvcv1.Mode_MODE_APPEND, loadsvcv1.Mode_MODE_UPSERT} {
			resp, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
				Config: &loadsvcv1.LoadConfig{Table: "g", Mode: mode, Pk: []string{"k"}},
				Rows: rows(t,
					map[string]any{"id": 99, "k": "a", "n": 1, "twice": 0},
					map[string]any{"id": 98, "k": "b", "n": 2, "twice": 0}),
			})
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			if got := strings.Join(resp.SkippedColumns, ","); got != "id,twice" || resp.Inserted+resp.Updated != 2 {
				t.Errorf("%s: skipped %q; %v", mode, got, resp)
			}
		}
		if got := e.count(t, `SELECT count(*) FROM g WHERE twice = n * 2 AND id < 10`); got != 2 {
			t.Errorf("%d rows with generated values, want 2", got)
		}
		e.clean(t)
	})
}

// Bad rows through PgBouncer: a load that fails on them names every one
// (found on one server connection, in the load's transaction, under
// savepoints), and one within its reject budget writes the good rows.
func TestRowErrorsThroughBouncer(t *testing.T) {
	t.Parallel()
	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v)
		e.exec(t, `CREATE TABLE r (id int PRIMARY KEY, a text, b int CHECK (b >= 0)); INSERT INTO r VALUES (1, 'old', 1), (3, 'old', 3)`)
		load := func(budget int64) (*loadsvcv1.LoadResponse, error) {
			return e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
				Config: &loadsvcv1.LoadConfig{Table: "r", Pk: []string{"id"}, ChunkSize: 2, MaxRejectedRows: budget},
				Rows: rows(t,
					map[string]any{"id": 1, "a": "new", "b": 11},
					map[string]any{"id": 2, "a": "new", "b": "x"},
					map[string]any{"id": 3, "a": "new", "b": -1},
					map[string]any{"id": 4, "a": "new", "b": 44}),
			})
		}
		_, err := load(0)
		st := wantCode(t, err, codes.InvalidArgument, `load failed: invalid input syntax for type integer: "x"`)
		var got []string
		for _, d := range st.Details() {
			if re, ok := d.(*loadsvcv1.RowErrors); ok {
				for _, r := range re.GetErrors() {
					got = append(got, fmt.Sprintf("%d %s %s", r.GetRow(), r.GetColumn(), r.GetSqlstate()))
				}
			}
		}
		if strings.Join(got, ", ") != "1 b 22P02, 2  23514" {
			t.Errorf("row errors %q", got)
		}
		if got := e.content(t, "r"); got != "1,old,1 3,old,3" {
			t.Errorf("table %q after a failed load", got)
		}
		resp, err := load(2)
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetRejectedRows() != 2 || resp.GetInserted() != 2 || resp.GetDeleted() != 1 {
			t.Errorf("rejected %d, inserted %d, deleted %d; want 2, 2, 1", resp.GetRejectedRows(), resp.GetInserted(), resp.GetDeleted())
		}
		if got := e.content(t, "r"); got != "1,new,11 3,old,3 4,new,44" {
			t.Errorf("table %q, want the good rows written and row 3's key left as it was", got)
		}
		e.clean(t)
	})
}
