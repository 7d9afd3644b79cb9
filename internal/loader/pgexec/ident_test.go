package pgexec_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testenv"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// TestIdentifierAbuse loads into tables and columns whose names try to end
// the identifier and run SQL of their own. Each either loads exactly the
// oddly named table or is refused, and table x keeps its rows.
func TestIdentifierAbuse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inject := `t"; DROP TABLE x; --`
	b.sql(t, `
CREATE TABLE x (id int PRIMARY KEY, v text);
INSERT INTO x VALUES (1, 'keep'), (2, 'keep');
CREATE TABLE `+loader.QuoteIdent(inject)+` (id int PRIMARY KEY, v text);
CREATE TABLE "t" (id int PRIMARY KEY, "a""b" text, "x"");DROP TABLE x;--" text);
CREATE TABLE "t2';DROP TABLE x;--" (id int PRIMARY KEY, v text);
CREATE TABLE `+loader.QuoteIdent("nl\nDROP TABLE x;--")+` (id int PRIMARY KEY, v text);
CREATE TABLE `+loader.QuoteIdent(strings.Repeat("L", 63))+` (id int PRIMARY KEY, v text);
INSERT INTO `+loader.QuoteIdent(strings.Repeat("L", 63))+` VALUES (1, 'keep');`)

	tests := []struct {
		name  string
		cfg   loader.Config
		rows  []row
		table string // the table that must hold the rows afterwards, as SQL
		want  string
		field string // a ValidationError on this field instead
		err   func(t *testing.T, err error)
	}{
		{name: "table name with quote and DROP, delete_insert",
			cfg:   loader.Config{Table: inject, Keys: []string{"id"}},
			rows:  []row{{"id": 1, "v": "a"}, {"id": 2, "v": "b"}},
			table: loader.QuoteIdent(inject), want: "(1,a)\n(2,b)"},
		{name: "table name with quote and DROP, append",
			cfg:   loader.Config{Table: inject, Mode: loader.ModeAppend},
			rows:  []row{{"id": 3, "v": "c"}},
			table: loader.QuoteIdent(inject), want: "(1,a)\n(2,b)\n(3,c)"},
		{name: "table name with single quote (lock literal)",
			cfg:   loader.Config{Table: "t2';DROP TABLE x;--", Keys: []string{"id"}},
			rows:  []row{{"id": 1, "v": "q"}},
			table: `"t2';DROP TABLE x;--"`, want: "(1,q)"},
		{name: "table name with a newline",
			cfg:   loader.Config{Table: "nl\nDROP TABLE x;--", Keys: []string{"id"}},
			rows:  []row{{"id": 1, "v": "n"}},
			table: loader.QuoteIdent("nl\nDROP TABLE x;--"), want: "(1,n)"},
		{name: "column names with quotes",
			cfg:   loader.Config{Table: "t", Keys: []string{"id"}},
			rows:  []row{{"id": 1, `a"b`: "ab", `x");DROP TABLE x;--`: "xx"}},
			table: `"t"`, want: "(1,ab,xx)"},
		{name: "quoted key column",
			cfg:  loader.Config{Table: "t", Keys: []string{`a"b`}},
			rows: []row{{"id": 2, `a"b`: "ab"}},
			// Row 1 has the same key value "ab": it is replaced.
			table: `"t"`, want: "(2,ab,)"},
		{name: "unknown column that tries to inject",
			cfg:  loader.Config{Table: "t", Keys: []string{"id"}},
			rows: []row{{"id": 9, `v") SELECT 1; DROP TABLE x; --`: "z"}},
			err: func(t *testing.T, err error) {
				uc := asUnknownColumn(t, err)
				if uc.Column != `v") SELECT 1; DROP TABLE x; --` || uc.Table != `"t"` {
					t.Errorf("UnknownColumnError %+v", uc)
				}
			}},
		{name: "schema that tries to inject",
			cfg:  loader.Config{Schema: `public"; DROP TABLE x; --`, Table: "t", Keys: []string{"id"}},
			rows: []row{{"id": 9}},
			err:  func(t *testing.T, err error) { pgError(t, err, "3F000") }},
		{name: "64-byte table refused, not truncated onto the 63-byte one",
			cfg:   loader.Config{Table: strings.Repeat("L", 64), Mode: loader.ModeAppend},
			rows:  []row{{"id": 2, "v": "truncated"}},
			field: "config.table"},
		{name: "64-byte key refused",
			cfg:   loader.Config{Table: "t", Keys: []string{strings.Repeat("k", 64)}},
			rows:  []row{{"id": 2}},
			field: "config.pk[0]"},
		{name: "NUL in table refused",
			cfg:   loader.Config{Table: "x\x00", Mode: loader.ModeAppend},
			rows:  []row{{"id": 2}},
			field: "config.table"},
		{name: "NUL in schema refused",
			cfg:   loader.Config{Schema: "public\x00", Table: "x", Mode: loader.ModeAppend},
			rows:  []row{{"id": 2}},
			field: "config.schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := loader.NewPlan(tt.cfg, testrows.Batch(t, tt.rows))
			if tt.field != "" {
				testrows.Refused(t, err, tt.field, -1)
			} else {
				if err != nil {
					t.Fatalf("NewPlan: %v", err)
				}
				_, err = b.exec.Run(ctxT(t), plan.Config, loader.OneBatch(plan.Batch))
				if tt.err != nil {
					tt.err(t, err)
				} else if err != nil {
					t.Fatalf("Run: %v", err)
				}
			}
			if tt.table != "" {
				if got := dump(t, b.admin, tt.table); got != tt.want {
					t.Errorf("%s holds\n%s\nwant\n%s", tt.table, got, tt.want)
				}
			}
			if got := dump(t, b.admin, "x"); got != "(1,keep)\n(2,keep)" {
				t.Errorf("table x holds %q", got)
			}
			if got := dump(t, b.admin, loader.QuoteIdent(strings.Repeat("L", 63))); got != "(1,keep)" {
				t.Errorf("the 63-byte table holds %q", got)
			}
			b.assertClean(t)
		})
	}

	// Column names are checked where the rows become columns.
	for _, name := range []string{strings.Repeat("c", 64), "c\x00", ""} {
		_, err := testrows.Columns(testrows.Structs(t, []row{{"id": 1, name: "v"}}))
		testrows.Refused(t, err, "rows[0]."+name, 0)
	}
}

// TestScriptIdentifierAbuse runs the scripts of loads into oddly named
// tables with psql: each loads its own table and nothing else runs.
func TestScriptIdentifierAbuse(t *testing.T) {
	t.Parallel()
	// Files a shell command smuggled into a name would create.
	pwned := "/tmp/lsvc-" + strconv.Itoa(os.Getpid())
	pwned2 := pwned + "-cr"
	for _, f := range []string{pwned, pwned2} {
		os.Remove(f)
		t.Cleanup(func() { os.Remove(f) })
	}
	for _, tt := range []struct {
		name, table string
		mode        loader.Mode
	}{
		{"quote", `t"; DROP TABLE x; --`, loader.ModeDeleteInsert},
		{"single quote", `t';DROP TABLE x;--`, loader.ModeDeleteInsert},
		{"newline ends the script's comment", "t\nDROP TABLE x;--", loader.ModeDeleteInsert},
		{"newline, append", "t\nDROP TABLE x;--", loader.ModeAppend},
		{"CR", "t\rDROP TABLE x;--", loader.ModeAppend},
		{"backslash meta-command", "t\n\\! touch " + pwned + " #\n", loader.ModeAppend},
		{"backslash meta-command after CR", "t\r\\! touch " + pwned2 + " #", loader.ModeDeleteInsert},
		{"psql variable", "t :x :'x'", loader.ModeDeleteInsert},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := cluster.NewDatabase(t)
			pool := testenv.NewPool(t, url, 1)
			q := loader.QuoteIdent(tt.table)
			ddl := `CREATE TABLE x (id int); INSERT INTO x VALUES (1);
CREATE TABLE ` + q + ` (id int PRIMARY KEY, "v""" text)`
			if _, err := pool.Exec(ctxT(t), ddl); err != nil {
				t.Fatal(err)
			}
			cfg := loader.Config{Table: tt.table, Mode: tt.mode}
			if tt.mode != loader.ModeAppend {
				cfg.Keys = []string{"id"}
			}
			plan := testrows.Plan(t, cfg, []row{{"id": 1, `v"`: "a"}, {"id": 2, `v"`: "b\nc"}})
			script := plan.Script()
			if out, err := runPsql(t, url, script, "PSQLRC=/dev/null"); err != nil {
				t.Fatalf("psql: %v\nscript:\n%s", err, script)
			} else if strings.Contains(out, "DROP TABLE") {
				t.Errorf("psql ran a DROP TABLE:\n%s\nscript:\n%s", out, script)
			}
			if got := dump(t, pool, "x"); got != "(1)" {
				t.Errorf("table x holds %q after the script:\n%s", got, script)
			}
			if got := dump(t, pool, q); got != "(1,a)\n(2,\"b\nc\")" {
				t.Errorf("%s holds %q after the script:\n%s", q, got, script)
			}
			if strings.Contains(tt.table, "\\!") && (fileExists(pwned) || fileExists(pwned2)) {
				t.Errorf("the script ran a shell command:\n%s", script)
			}
		})
	}
}

// TestScriptClientEncoding runs scripts with UTF-8 names and text through
// a psql whose client encoding is not UTF-8 (PGCLIENTENCODING here, a
// terminal's locale in real life): the script's bytes are UTF-8 and must be
// read as such, neither refused nor silently re-encoded.
func TestScriptClientEncoding(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, table, ddl, key string
	}{
		{"ASCII names, UTF-8 text", "plans", `CREATE TABLE plans (code text PRIMARY KEY, name text)`, "code"},
		{"UTF-8 names", "年金计划", `CREATE TABLE "年金计划" (code text PRIMARY KEY, name text)`, "code"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := cluster.NewDatabase(t)
			pool := testenv.NewPool(t, url, 1)
			if _, err := pool.Exec(ctxT(t), tt.ddl); err != nil {
				t.Fatal(err)
			}
			plan := testrows.Plan(t, loader.Config{Table: tt.table, Keys: []string{tt.key}}, []row{{"code": "P1", "name": "企业年金 é"}})
			script := plan.Script()
			for _, enc := range []string{"LATIN1", "WIN1252", "SQL_ASCII"} {
				if out, err := runPsql(t, url, script, "PGCLIENTENCODING="+enc); err != nil {
					t.Fatalf("psql with PGCLIENTENCODING=%s: %v\n%s", enc, err, out)
				}
				if got := dump(t, pool, loader.QuoteIdent(tt.table)); got != "(P1,\"企业年金 é\")" {
					t.Errorf("PGCLIENTENCODING=%s: table holds %q, want (P1,\"企业年金 é\")", enc, got)
				}
			}
		})
	}
}

// TestStageNamedTarget loads a table that has the stage's own name: the
// TEMP stage must not shadow the target.
func TestStageNamedTarget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE loadsvc_stage (id int PRIMARY KEY, v text); INSERT INTO loadsvc_stage VALUES (1, 'old'), (2, 'old')`)
	res := b.load(t, loader.Config{Table: "loadsvc_stage", Keys: []string{"id"}}, []row{{"id": 1, "v": "new"}, {"id": 3, "v": "new"}})
	if got := dump(t, b.admin, "public.loadsvc_stage"); got != "(1,new)\n(2,old)\n(3,new)" {
		t.Errorf("loadsvc_stage holds\n%s\nwant\n(1,new)\n(2,old)\n(3,new)", got)
	}
	if res.Deleted != 1 || res.Inserted != 2 {
		t.Errorf("Deleted=%d Inserted=%d, want 1 2", res.Deleted, res.Inserted)
	}
	b.assertClean(t)
}

// TestOnlyGeneratedColumns appends rows that carry nothing but a column the
// table generates: either the rows go in with their defaults, or the load
// is refused as a bad request — not a syntax error of an empty COPY list.
func TestOnlyGeneratedColumns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE g (id int GENERATED ALWAYS AS IDENTITY, v text DEFAULT 'd')`)
	res, err := b.exec.Run(ctxT(t), loader.Config{Table: "g", Mode: loader.ModeAppend}, loader.OneBatch(testrows.Batch(t, []row{{"id": 5}, {"id": 6}})))
	var ve *loader.ValidationError
	switch {
	case errors.As(err, &ve):
		if got := dump(t, b.admin, "g"); got != "" {
			t.Errorf("refused load wrote %q", got)
		}
	case err != nil:
		t.Errorf("Run: %v (%T), want the rows inserted or a ValidationError", err, err)
	default:
		if got := dump(t, b.admin, "g"); got != "(1,d)\n(2,d)" || res.Inserted != 2 {
			t.Errorf("g holds %q, Inserted=%d; want (1,d) (2,d) and 2", got, res.Inserted)
		}
	}
	b.assertClean(t)
}
