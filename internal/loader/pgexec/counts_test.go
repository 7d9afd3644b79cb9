package pgexec_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// TestCounts checks the Result of executed loads against the rows really
// removed from and added to the table.
func TestCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ddl       string
		cfg       loader.Config
		rows      []row
		res       loader.Result // Deleted, Inserted, Skipped, Rows, DuplicatesDropped, Batches
		wantTable string
	}{
		{name: "delete_insert, two rows per key, no unique index",
			ddl: `CREATE TABLE c (k int, v text);
INSERT INTO c VALUES (1, 'a'), (1, 'b'), (2, 'a'), (2, 'b'), (3, 'keep')`,
			cfg:       loader.Config{Table: "c", Keys: []string{"k"}, ChunkSize: 2},
			rows:      []row{{"k": 1, "v": "new"}, {"k": 2, "v": "new"}, {"k": 4, "v": "new"}},
			res:       loader.Result{Deleted: 4, Inserted: 3, Rows: 3, Batches: 2},
			wantTable: "(1,new)\n(2,new)\n(3,keep)\n(4,new)"},
		{name: "delete_insert, two keys",
			ddl: `CREATE TABLE c (a text, b int, v text);
INSERT INTO c VALUES ('x', 1, 'old'), ('x', 1, 'old2'), ('x', 2, 'keep'), ('y', 1, 'old')`,
			cfg:       loader.Config{Table: "c", Keys: []string{"a", "b"}},
			rows:      []row{{"a": "x", "b": 1, "v": "new"}, {"a": "y", "b": 1, "v": "new"}, {"a": "y", "b": 2, "v": "new"}},
			res:       loader.Result{Deleted: 3, Inserted: 3, Rows: 3, Batches: 1},
			wantTable: "(x,1,new)\n(x,2,keep)\n(y,1,new)\n(y,2,new)"},
		{name: "delete_insert, no key present",
			ddl:       `CREATE TABLE c (k int PRIMARY KEY, v text); INSERT INTO c VALUES (1, 'keep')`,
			cfg:       loader.Config{Table: "c", Keys: []string{"k"}, ChunkSize: 1},
			rows:      []row{{"k": 2}, {"k": 3}},
			res:       loader.Result{Deleted: 0, Inserted: 2, Rows: 2, Batches: 2},
			wantTable: "(1,keep)\n(2,)\n(3,)"},
		{name: "delete_insert, keep last",
			ddl:       `CREATE TABLE c (k int PRIMARY KEY, v text); INSERT INTO c VALUES (1, 'old')`,
			cfg:       loader.Config{Table: "c", Keys: []string{"k"}, Duplicates: loader.DuplicatesKeepLast, ChunkSize: 2},
			rows:      []row{{"k": 1, "v": "first"}, {"k": 2, "v": "first"}, {"k": 1, "v": "last"}, {"k": 2, "v": "last"}, {"k": 1, "v": "latest"}},
			res:       loader.Result{Deleted: 1, Inserted: 2, Rows: 5, DuplicatesDropped: 3, Batches: 3},
			wantTable: "(1,latest)\n(2,last)"},
		// A refresh key: every target row of a key tuple goes, every row
		// of the load comes in.
		{name: "delete_insert, refresh key",
			ddl:       `CREATE TABLE c (k int, v text); INSERT INTO c VALUES (1, 'old'), (1, 'old2'), (3, 'other')`,
			cfg:       loader.Config{Table: "c", Keys: []string{"k"}, ChunkSize: 2},
			rows:      []row{{"k": 1, "v": "a"}, {"k": 1, "v": "b"}, {"k": 1, "v": "c"}},
			res:       loader.Result{Deleted: 2, Inserted: 3, Rows: 3, Batches: 2},
			wantTable: "(1,a)\n(1,b)\n(1,c)\n(3,other)"},
		// Skipped counts the rows whose key the table had, not the
		// duplicates the planner dropped.
		{name: "insert_missing, keep last",
			ddl:       `CREATE TABLE c (k int PRIMARY KEY, v text); INSERT INTO c VALUES (1, 'old')`,
			cfg:       loader.Config{Table: "c", Mode: loader.ModeInsertMissing, Keys: []string{"k"}, Duplicates: loader.DuplicatesKeepLast},
			rows:      []row{{"k": 1, "v": "new"}, {"k": 2, "v": "first"}, {"k": 2, "v": "last"}},
			res:       loader.Result{Inserted: 1, Skipped: 1, Rows: 3, DuplicatesDropped: 1, Batches: 1},
			wantTable: "(1,old)\n(2,last)"},
		{name: "append",
			ddl:       `CREATE TABLE c (k int, v text); INSERT INTO c VALUES (1, 'old')`,
			cfg:       loader.Config{Table: "c", Mode: loader.ModeAppend, ChunkSize: 2},
			rows:      []row{{"k": 1}, {"k": 1}, {"k": 2}, {"k": 3}, {"k": 4}},
			res:       loader.Result{Deleted: 0, Inserted: 5, Rows: 5, Batches: 3},
			wantTable: "(1,)\n(1,)\n(1,old)\n(2,)\n(3,)\n(4,)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sql(t, tt.ddl)
			before := b.count(t, "SELECT count(*) FROM c")
			plan := testrows.Plan(t, tt.cfg, tt.rows)
			res, err := b.exec.Run(ctxT(t), tt.cfg, loader.OneBatch(testrows.Batch(t, tt.rows)))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := loader.Result{Deleted: res.Deleted, Inserted: res.Inserted, Skipped: res.Skipped, Rows: res.Rows, DuplicatesDropped: res.DuplicatesDropped, Batches: res.Batches}
			if !reflect.DeepEqual(got, tt.res) {
				t.Errorf("Result = %+v, want %+v", got, tt.res)
			}
			after := b.count(t, "SELECT count(*) FROM c")
			if after != before-res.Deleted+res.Inserted {
				t.Errorf("table went from %d to %d rows, but the load says -%d +%d", before, after, res.Deleted, res.Inserted)
			}
			if d := dump(t, b.admin, "c"); d != tt.wantTable {
				t.Errorf("c holds\n%s\nwant\n%s", d, tt.wantTable)
			}
			// The executor runs what the plan shows when every column is
			// writable and the table has no unique index on the key (other
			// modes, and delete_insert on such a table, use the catalog's).
			unique := strings.Contains(tt.ddl, "PRIMARY KEY")
			if m := plan.Config.Mode; m != loader.ModeAppend && (m != loader.ModeDeleteInsert || unique) {
				b.assertClean(t)
				return
			}
			if len(res.Statements) != len(plan.Statements()) {
				t.Fatalf("executor ran %d statements, the plan shows %d", len(res.Statements), len(plan.Statements()))
			}
			for i, ps := range plan.Statements() {
				if es := res.Statements[i]; es.SQL != ps.SQL || es.Rows != ps.Rows {
					t.Errorf("statement %d: executor ran %q (%d rows), plan shows %q (%d rows)", i, es.SQL, es.Rows, ps.SQL, ps.Rows)
				}
			}
			if len(res.SkippedColumns) != 0 {
				t.Errorf("SkippedColumns = %q", res.SkippedColumns)
			}
			b.assertClean(t)
		})
	}
}

// TestEmptyLoad runs a plan of no rows: nothing runs, nothing is acquired.
func TestEmptyLoad(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.exec.Run(ctxT(t), loader.Config{Table: "no_such_table", Keys: []string{"id"}}, loader.OneBatch(testrows.Batch(t, nil)))
	if err != nil || res.Inserted != 0 || res.Deleted != 0 || res.Batches != 0 || len(res.Statements) != 0 {
		t.Errorf("empty load = %+v, %v", res, err)
	}
	if n := b.pool.Stat().TotalConns(); n != 0 {
		t.Errorf("an empty load opened %d connections", n)
	}
}
