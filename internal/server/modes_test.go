package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

const modeTable = `CREATE TABLE t (id int %s, a text, b int);
INSERT INTO t VALUES (1, 'x', NULL), (2, NULL, 20), (3, 'z', 30);`

// content renders a table's rows in key order, NULL as "-".
func content(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(concat_ws(',', id, coalesce(a, '-'), coalesce(b::text, '-')), ' ' ORDER BY id, a, b), '') FROM t`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runScript runs a plan's sql_script with psql against url.
func runScript(t *testing.T, url, script string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "plan.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(cluster.BinDir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", url, "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("psql -f plan: %v\n%s\nscript:\n%s", err, out, script)
	}
}

// Every mode against tables with and without a unique constraint on the
// key: the table's content and the counts are checked, and the plan's script
// run by psql leaves the same table as the executing load.
func TestModes(t *testing.T) {
	t.Parallel()
	batch := func(t *testing.T) *loadsvcv1.LoadRequest {
		return &loadsvcv1.LoadRequest{Rows: rows(t,
			map[string]any{"id": 1, "a": "A1", "b": 11},
			map[string]any{"id": 2, "a": "A2", "b": nil},
			map[string]any{"id": 4, "a": "A4", "b": 44},
		)}
	}
	cases := []struct {
		mode    loadsvcv1.Mode
		want    string
		counts  [4]int64 // deleted, inserted, updated, skipped
		unique  codes.Code
		uniqueT string // content when the unique table refuses the load
	}{
		{mode: loadsvcv1.Mode_MODE_DELETE_INSERT, want: "1,A1,11 2,A2,- 3,z,30 4,A4,44", counts: [4]int64{2, 3, 0, 0}},
		{mode: loadsvcv1.Mode_MODE_UPSERT, want: "1,A1,11 2,A2,- 3,z,30 4,A4,44", counts: [4]int64{0, 1, 2, 0}},
		{mode: loadsvcv1.Mode_MODE_INSERT_MISSING, want: "1,x,- 2,-,20 3,z,30 4,A4,44", counts: [4]int64{0, 1, 0, 2}},
		{mode: loadsvcv1.Mode_MODE_FILL_NULL_ONLY, want: "1,x,11 2,A2,20 3,z,30", counts: [4]int64{0, 0, 2, 1}},
		{mode: loadsvcv1.Mode_MODE_REPLACE, want: "1,A1,11 2,A2,- 4,A4,44", counts: [4]int64{3, 3, 0, 0}},
		{mode: loadsvcv1.Mode_MODE_APPEND, want: "1,A1,11 1,x,- 2,A2,- 2,-,20 3,z,30 4,A4,44", counts: [4]int64{0, 3, 0, 0},
			unique: codes.AlreadyExists, uniqueT: "1,x,- 2,-,20 3,z,30"},
	}
	for _, c := range cases {
		for _, key := range []string{"PRIMARY KEY", ""} {
			name := c.mode.String() + map[string]string{"PRIMARY KEY": "/unique", "": "/no_unique"}[key]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				ddl := strings.Replace(modeTable, "%s", key, 1)
				b.exec1(t, ddl)
				req := batch(t)
				req.Config = &loadsvcv1.LoadConfig{Table: "t", Mode: c.mode, Pk: []string{"id"}}
				resp, err := b.client.Load(context.Background(), req)
				if key != "" && c.unique != codes.OK {
					wantCode(t, err, c.unique, "load failed: ")
					if got := content(t, b.admin); got != c.uniqueT {
						t.Errorf("after refusal: %q, want %q", got, c.uniqueT)
					}
					b.clean(t)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := content(t, b.admin); got != c.want {
					t.Errorf("table %q, want %q", got, c.want)
				}
				got := [4]int64{resp.Deleted, resp.Inserted, resp.Updated, resp.Skipped}
				if got != c.counts || resp.Mode != c.mode {
					t.Errorf("counts (deleted, inserted, updated, skipped) %v, want %v; %v", got, c.counts, resp)
				}
				b.clean(t)

				// The plan, run by psql on a twin database, leaves the same table.
				req.Config.PlanOnly = true
				plan, err := b.client.Load(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				twinURL := cluster.NewDatabase(t)
				twin := testenv.NewPool(t, twinURL, 1)
				if _, err := twin.Exec(context.Background(), ddl); err != nil {
					t.Fatal(err)
				}
				runScript(t, twinURL, plan.SqlScript)
				if got := content(t, twin); got != c.want {
					t.Errorf("plan script left %q, the load %q\n%s", got, c.want, plan.SqlScript)
				}
			})
		}
	}
}

// Duplicate keys inside one request: refused in the stage, before anything
// is written, by default (delete_insert: on request), naming the key and
// both rows; the last kept on request.
func TestDuplicateKeysInRequest(t *testing.T) {
	t.Parallel()
	for _, mode := range []loadsvcv1.Mode{loadsvcv1.Mode_MODE_DELETE_INSERT, loadsvcv1.Mode_MODE_UPSERT, loadsvcv1.Mode_MODE_INSERT_MISSING, loadsvcv1.Mode_MODE_FILL_NULL_ONLY} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.exec1(t, strings.Replace(modeTable, "%s", "PRIMARY KEY", 1))
			req := &loadsvcv1.LoadRequest{
				Config: &loadsvcv1.LoadConfig{Table: "t", Mode: mode, Pk: []string{"id"}},
				Rows: rows(t,
					map[string]any{"id": 2, "a": "first", "b": 1},
					map[string]any{"id": 5, "a": "five", "b": 5},
					map[string]any{"id": 2, "a": "last", "b": 2}),
			}
			before := content(t, b.admin)
			if mode == loadsvcv1.Mode_MODE_DELETE_INSERT {
				// delete_insert keeps every row unless told otherwise:
				// here the table's own key refuses the second id 2.
				_, err := b.client.Load(context.Background(), req)
				wantCode(t, err, codes.AlreadyExists, "load failed: duplicate key value")
				req.Config.Duplicates = loadsvcv1.Duplicates_DUPLICATES_REFUSE
			}
			_, err := b.client.Load(context.Background(), req)
			st := wantCode(t, err, codes.InvalidArgument, `rows 0 and 2 have the same key ("id"=2)`)
			if f := badRequestField(t, st); f != "rows[2]" {
				t.Errorf("field %q", f)
			}
			if got := content(t, b.admin); got != before {
				t.Errorf("a refused request changed the table: %q, was %q", got, before)
			}
			b.clean(t)
			req.Config.Duplicates = loadsvcv1.Duplicates_DUPLICATES_KEEP_LAST
			resp, err := b.client.Load(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.DuplicatesDropped != 1 || resp.Rows != 3 {
				t.Errorf("response %v", resp)
			}
			want := map[loadsvcv1.Mode]string{
				loadsvcv1.Mode_MODE_DELETE_INSERT:  "1,x,- 2,last,2 3,z,30 5,five,5",
				loadsvcv1.Mode_MODE_UPSERT:         "1,x,- 2,last,2 3,z,30 5,five,5",
				loadsvcv1.Mode_MODE_INSERT_MISSING: "1,x,- 2,-,20 3,z,30 5,five,5",
				loadsvcv1.Mode_MODE_FILL_NULL_ONLY: "1,x,- 2,last,20 3,z,30",
			}[mode]
			if got := content(t, b.admin); got != want {
				t.Errorf("table %q, want %q", got, want)
			}
		})
	}
}

// replace swaps the whole content atomically: a reader in another session
// sees the old rows until the load commits, never an empty table.
func TestReplaceIsAtomic(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id int, v text)`)
	b.exec1(t, `INSERT INTO t SELECT g, 'old' FROM generate_series(1, 1000) g`)
	b.exec1(t, `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$`)
	b.exec1(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow()`)
	done := make(chan error, 1)
	go func() {
		_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_REPLACE}, Rows: seqRows(t, 0, 200)})
		done <- err
	}()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if n := b.count(t, `SELECT count(*) FROM t`); n != 200 {
				t.Fatalf("after replace: %d rows", n)
			}
			return
		default:
		}
		if n := b.count(t, `SELECT count(*) FROM t`); n != 1000 && n != 200 {
			t.Fatalf("a reader saw %d rows mid-replace", n)
		}
	}
}
