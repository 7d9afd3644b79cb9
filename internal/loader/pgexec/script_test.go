package pgexec_test

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testenv"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// trickyRows are rows with text that COPY and psql must carry exactly.
func trickyRows(from, to int) []row {
	texts := []string{
		"tab\there", "nl\nx", "cr\rx", `back\slash`, `\.`, "\\.\n", `\N`, "quote' dq\"", "年金计划 😀",
		"-- not a comment", "; DROP TABLE s; --", ":var :'var' :\"var\"", `\set x 1`, "",
	}
	var rows []row
	for id := from; id <= to; id++ {
		r := row{"id": id, "v": texts[id%len(texts)], "n": float64(id) * 1e19, "j": map[string]any{"id": id, "t": texts[(id+1)%len(texts)]}}
		if id%4 == 0 {
			r["v"] = nil
		}
		if id%5 == 0 {
			delete(r, "n") // missing key: NULL
		}
		rows = append(rows, r)
	}
	return rows
}

// TestScriptMatchesLoad runs a plan's Script with psql on one database and
// the same plan with the Executor on another, both seeded alike, and
// compares the tables they leave.
func TestScriptMatchesLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ddl     string
		table   string // as SQL
		cfg     loader.Config
		rows    []row
		deleted int64
	}{
		{name: "append onto overlapping rows",
			ddl: `CREATE TABLE s (id int, v text, n numeric, j jsonb, d text DEFAULT 'dflt');
INSERT INTO s (id, v) SELECT g, 'old ' || g FROM generate_series(1, 5) g`,
			table: "s",
			cfg:   loader.Config{Table: "s", Mode: loader.ModeAppend, ChunkSize: 3},
			rows:  trickyRows(3, 12)},
		{name: "delete_insert with a primary key",
			ddl: `CREATE TABLE s (id int PRIMARY KEY, v text, n numeric, j jsonb, d text DEFAULT 'dflt');
INSERT INTO s (id, v) SELECT g, 'old ' || g FROM generate_series(1, 5) g`,
			table:   "s",
			cfg:     loader.Config{Table: "s", Keys: []string{"id"}, ChunkSize: 3},
			rows:    trickyRows(3, 12),
			deleted: 3},
		{name: "delete_insert, two rows per key, no unique index",
			ddl: `CREATE TABLE s (id int, v text, n numeric, j jsonb, d text DEFAULT 'dflt');
INSERT INTO s (id, v) SELECT g % 5, 'old ' || g FROM generate_series(1, 10) g`,
			table:   "s",
			cfg:     loader.Config{Table: "s", Keys: []string{"id"}, ChunkSize: 3},
			rows:    trickyRows(3, 12),
			deleted: 4},
		{name: "delete_insert, two keys, UTF-8 names, keep last",
			ddl: `CREATE TABLE "年金.计划" ("代码" text, id int, v text, n numeric, j jsonb, PRIMARY KEY ("代码", id));
INSERT INTO "年金.计划" SELECT 'P' || (g % 2), g, 'old', g FROM generate_series(1, 6) g`,
			table: `"年金.计划"`,
			cfg:   loader.Config{Table: "年金.计划", Keys: []string{"代码", "id"}, ChunkSize: 3, Duplicates: loader.DuplicatesKeepLast},
			rows: func() []row {
				rows := trickyRows(1, 8)
				for _, r := range rows {
					r["代码"] = "P" + strconv.Itoa(r["id"].(int)%2)
				}
				return append(rows, row{"代码": "P1", "id": 1, "v": "last wins"})
			}(),
			deleted: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			scriptURL := cluster.NewDatabase(t)
			scriptPool := testenv.NewPool(t, scriptURL, 1)
			b.sql(t, tt.ddl)
			if _, err := scriptPool.Exec(ctxT(t), tt.ddl); err != nil {
				t.Fatal(err)
			}
			if dump(t, b.admin, tt.table) != dump(t, scriptPool, tt.table) {
				t.Fatal("the seeded tables differ")
			}

			plan := testrows.Plan(t, tt.cfg, tt.rows)
			script := plan.Script()
			out, err := runPsql(t, scriptURL, script)
			if err != nil {
				t.Fatalf("psql: %v\nscript:\n%s", err, script)
			}
			res, err := b.exec.Run(ctxT(t), tt.cfg, loader.OneBatch(testrows.Batch(t, tt.rows)))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}

			loaded, scripted := dump(t, b.admin, tt.table), dump(t, scriptPool, tt.table)
			if loaded != scripted {
				t.Errorf("the script and the load leave different tables\nload:\n%s\nscript:\n%s\nscript text:\n%s", loaded, scripted, script)
			}
			if want := int64(plan.Rows - plan.DuplicatesDropped); res.Deleted != tt.deleted || res.Inserted != want || res.Batches != plan.Batches() {
				t.Errorf("Result Deleted=%d Inserted=%d Batches=%d, want %d %d %d", res.Deleted, res.Inserted, res.Batches, tt.deleted, want, plan.Batches())
			}
			// psql reports the same counts the executor does; the target's
			// DELETE is the last (one before it may drop stage duplicates).
			dels := regexp.MustCompile(`(?m)^DELETE (\d+)$`).FindAllStringSubmatch(out, -1)
			if m := lastOf(dels); tt.deleted > 0 && (m == nil || m[1] != strconv.FormatInt(res.Deleted, 10)) {
				t.Errorf("psql says %q, executor deleted %d\n%s", m, res.Deleted, out)
			}
			copies := regexp.MustCompile(`(?m)^COPY \d+$`).FindAllString(out, -1)
			if len(copies) != plan.Batches() {
				t.Errorf("psql ran %d COPYs, want %d\n%s", len(copies), plan.Batches(), out)
			}
			b.assertClean(t)
		})
	}
}

func lastOf(m [][]string) []string {
	if len(m) == 0 {
		return nil
	}
	return m[len(m)-1]
}

// A plan script is inert whatever the database's standard_conforming_strings:
// hostile table and column names (quotes, backslashes, psql meta-commands,
// newlines, psql variables) load the rows under
// standard_conforming_strings=off, and nothing else happens — no shell
// command runs on the operator's machine.
func TestScriptInertUnderNonStandardStrings(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "p") // short: names hold the path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pwned := dir + "/p"
	names := []string{
		`x\' \! touch ` + pwned + ` #`,
		`x' \! touch ` + pwned + ` #`,
		`x\\' \! touch ` + pwned + ` #`,
		"x\n\\! touch " + pwned + "\n",
		`\.`,
		`:'x' :x :"x"`,
		`\gexec`,
	}
	for i, name := range names {
		for _, mode := range []loader.Mode{loader.ModeDeleteInsert, loader.ModeAppend, loader.ModeUpsert} {
			b := setup(t)
			key := name + "k"
			b.sql(t, `CREATE TABLE `+loader.QuoteIdent(name)+` (`+loader.QuoteIdent(key)+` int, v text)`)
			cfg := loader.Config{Table: name, Mode: mode, Keys: []string{key}}
			plan := testrows.Plan(t, cfg, []row{{key: i, "v": name}, {key: i + 100, "v": `\! touch ` + pwned}})
			out, err := runPsql(t, b.url, plan.Script(), "PGOPTIONS=-c standard_conforming_strings=off")
			if err != nil {
				t.Fatalf("%s %q: psql: %v", mode, name, err)
			}
			if got := b.count(t, `SELECT count(*) FROM `+loader.QuoteIdent(name)+` WHERE v IN ($1, $2)`, name, `\! touch `+pwned); got != 2 {
				t.Errorf("%s %q: %d of 2 rows loaded\n%s", mode, name, got, out)
			}
		}
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatalf("a plan script ran a shell command: %s exists", pwned)
	}
}
