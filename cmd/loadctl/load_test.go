package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

func TestLoadCSVQuotingNullsUTF8(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE "年金计划" ("代码" text, "日期" date, "名称" text, "净值" numeric, PRIMARY KEY ("代码", "日期"))`)
	s.exec(t, `INSERT INTO "年金计划" VALUES ('P1', '2024-11-01', 'old', 1), ('P9', '2024-11-01', 'keep', 9)`)
	csv := "\xef\xbb\xbf代码,日期,名称,净值\r\n" +
		"P1,2024-11-01,\"comma, \"\"quote\"\" and\r\nnewline\",1.2345\r\n" +
		"P2,2024-11-01,\"\",\r\n" + // quoted empty: '' ; unquoted empty: NULL
		"P3,2024-11-01,,3\r\n" +
		"P4,2024-11-01,\"中文 值\",0.000000000000000000001\r\n"
	f := writeFile(t, "nav.csv", csv)
	r := mustRun(t, nil, "load", "--addr", s.addr, "--table", "年金计划", "--mode", "delete_insert", "--pk", "代码,日期", f)
	want := "table               年金计划\n" +
		"mode                delete_insert\n" +
		"rows                4\n" +
		"deleted             1\n" +
		"inserted            4\n" +
		"updated             0\n" +
		"skipped             0\n" +
		"duplicates dropped  0\n" +
		"rejected            0\n" +
		"batches             1\n" +
		"skipped columns     -\n"
	// the load id, once the service records loads, is a UUID of its own
	if got := loadIDLine.ReplaceAllString(r.stdout, ""); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	got := s.query(t, `SELECT concat_ws('|', "代码", coalesce("名称", 'NULL'), coalesce("净值"::text, 'NULL')) FROM "年金计划" ORDER BY 1`)
	wantRows := []string{
		"P1|comma, \"quote\" and\r\nnewline|1.2345",
		"P2||NULL",
		"P3|NULL|3",
		"P4|中文 值|0.000000000000000000001",
		"P9|keep|9",
	}
	if !reflect.DeepEqual(got, wantRows) {
		t.Errorf("table:\n%q\nwant:\n%q", got, wantRows)
	}
}

// loadIDLine is the table's load id line.
var loadIDLine = regexp.MustCompile(`(?m)^load id +[0-9a-f-]{36}\n`)

func TestLoadCSVNullMarkerAndDelimiter(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int, a text, b text)`)
	f := writeFile(t, "t.csv", "id;a;b\n1;NA;\n2;\"NA\";x\n")
	mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--null", "NA", "--delimiter", ";", f)
	got := s.query(t, `SELECT id || ':' || coalesce(a, '<null>') || ':' || coalesce(b, '<null>') FROM t ORDER BY id`)
	if want := []string{"1:<null>:", "2:NA:x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadNDJSONExactNumbersAndNestedJSON(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id bigint PRIMARY KEY, n numeric, ok boolean, doc jsonb, tags json, note text)`)
	nd := `{"id": 9007199254740993, "n": 0.1000000000000000055511151231257827, "ok": true, "doc": {"a": {"b": [1, 2, {"big": 12345678901234567890}]}}, "tags": ["x", "y"], "note": "line\nbreak \u00e9"}
{"id": 2, "n": 1e-7, "ok": false, "doc": null}

{"id": 3, "note": null}
`
	f := writeFile(t, "rows.ndjson", nd)
	mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", f)
	got := s.query(t, `SELECT concat_ws('|', id, n, ok, doc, tags, note) FROM t ORDER BY id`)
	want := []string{
		"2|0.0000001|f",
		"3",
		"9007199254740993|0.1000000000000000055511151231257827|t|" +
			`{"a": {"b": [1, 2, {"big": 12345678901234567890}]}}|["x", "y"]|line` + "\nbreak é",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestLoadJSONArrayFileAndStdin(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id bigint PRIMARY KEY, v text, j jsonb)`)
	arr := ` [ {"id": 9007199254740993, "v": "a", "j": {"k": [true, null]}},
	{"id": 2, "v": null} ]`
	mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", writeFile(t, "rows.json", arr))
	// stdin, sniffed: '[' is a JSON array; delete_insert replaces id 2.
	r := mustRun(t, strings.NewReader(`[{"id": 2, "v": "b"}]`), "load", "--addr", s.addr, "--table", "t", "--pk", "id", "-")
	if !strings.Contains(r.stdout, "deleted             1\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	// stdin, sniffed: '{' is NDJSON.
	mustRun(t, strings.NewReader("\n  {\"id\": 3}\n{\"id\": 4, \"v\": \"d\"}\n"), "load", "--addr", s.addr, "--table", "t", "--mode", "append")
	got := s.query(t, `SELECT concat_ws('|', id, v, j) FROM t ORDER BY id`)
	want := []string{"2|b", "3", "4|d", `9007199254740993|a|{"k": [true, null]}`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestLoadStdinCSVWithFormatAndSchema(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int, v text)`)
	// Without --format this would be sniffed as CSV too; with it, so it is.
	mustRun(t, strings.NewReader("id,v\n1,x\n"), "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--format", "csv")
	if got := s.query(t, `SELECT v FROM t`); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("got %q", got)
	}
	s.exec(t, `CREATE SCHEMA other; CREATE TABLE other.t (id int, v text)`)
	mustRun(t, strings.NewReader("id,v\n2,y\n"), "load", "--addr", s.addr, "--schema", "other", "--table", "t", "--mode", "replace", "--format", "csv")
	if got := s.query(t, `SELECT v FROM other.t UNION ALL SELECT '|' UNION ALL SELECT v FROM public.t`); !reflect.DeepEqual(got, []string{"y", "|", "x"}) {
		t.Errorf("got %q", got)
	}
}

func TestAppendTwiceFailsThenDeleteInsert(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	f := writeFile(t, "t.csv", "id,v\n1,a\n2,b\n")
	mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", f)

	r := run(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--quiet", f)
	if r.code != 1 {
		t.Fatalf("second append: exit %d, want 1\n%s", r.code, r.stderr)
	}
	want := "loadctl: AlreadyExists: load failed: duplicate key value violates unique constraint \"t_pkey\"\n" +
		"  reason: LOAD_FAILED\n" +
		"  sqlstate: 23505\n" +
		"  constraint: t_pkey\n" +
		"  schema: public\n" +
		"  table: t\n" +
		"  detail: Key (id)=(1) already exists.\n" +
		// every row the unique key refuses, by its line in the file
		"line 2: duplicate key value violates unique constraint \"t_pkey\" (SQLSTATE 23505)\n" +
		"line 3: duplicate key value violates unique constraint \"t_pkey\" (SQLSTATE 23505)\n"
	if r.stderr != want || r.stdout != "" {
		t.Errorf("stderr:\n%s\nwant:\n%s\nstdout: %q", r.stderr, want, r.stdout)
	}

	f2 := writeFile(t, "t.csv", "id,v\n2,B\n3,C\n")
	r = mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--pk", "id", f2)
	for _, line := range []string{"mode                delete_insert\n", "deleted             1\n", "inserted            2\n"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("stdout lacks %q:\n%s", line, r.stdout)
		}
	}
	got := s.query(t, `SELECT id || v FROM t ORDER BY id`)
	if want := []string{"1a", "2B", "3C"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadFailures(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	for _, tc := range []struct {
		name, file, content string
		args                []string
		stderr              string
	}{
		{name: "unknown column", file: "a.csv", content: "id,nope\n1,x\n", args: []string{"--mode", "append"},
			stderr: "loadctl: InvalidArgument: load failed: column \"nope\" of relation \"t\" does not exist\n  reason: UNKNOWN_COLUMN\n"},
		{name: "missing table", file: "a.csv", content: "id\n1\n", args: []string{"--mode", "append", "--table", "absent"},
			stderr: "loadctl: NotFound: load failed: relation \"absent\" does not exist"},
		{name: "missing pk", file: "a.csv", content: "id\n1\n", args: []string{"--mode", "upsert"},
			stderr: "loadctl: InvalidArgument: "},
		{name: "bad value", file: "a.csv", content: "id\nx\n", args: []string{"--mode", "append"},
			stderr: "loadctl: InvalidArgument: load failed: invalid input syntax for type integer: \"x\"\n  reason: LOAD_FAILED\n  sqlstate: 22P02\n"},
		{name: "duplicate keys", file: "a.csv", content: "id,v\n1,a\n1,b\n", args: []string{"--pk", "id", "--duplicates", "refuse"},
			stderr: "loadctl: InvalidArgument: "},
		{name: "bad csv", file: "a.csv", content: "id,v\n1,a\n2\n", args: []string{"--mode", "append"},
			stderr: "loadctl: a.csv:3: 1 field, the header has 2\n"},
		{name: "unterminated quote", file: "a.csv", content: "id,v\n1,\"a\n", args: []string{"--mode", "append"},
			stderr: "loadctl: a.csv:2: unterminated CSV quoted field\n"},
		{name: "json not an object", file: "a.ndjson", content: "{\"id\": 1}\n[1]\n", args: []string{"--mode", "append"},
			stderr: "loadctl: a.ndjson: row 2: want a JSON object, got an array\n"},
		{name: "bad json", file: "a.json", content: "[{\"id\": 1}, {\"id\": }]", args: []string{"--mode", "append"},
			stderr: "loadctl: a.json: row 2: invalid character '}' looking for beginning of value\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, tc.file, tc.content)
			args := append([]string{"load", "--addr", s.addr, "--table", "t", "--quiet"}, tc.args...)
			r := run(t, nil, append(args, f)...)
			stderr := strings.ReplaceAll(r.stderr, filepath.Dir(f)+"/", "")
			if r.code != 1 || !strings.HasPrefix(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1, stderr starting:\n%s", r.code, stderr, tc.stderr)
			}
			t.Logf("stderr:\n%s", stderr)
		})
	}
	if got := s.query(t, `SELECT count(*)::text FROM t`); got[0] != "0" {
		t.Errorf("failed loads left %s rows", got[0])
	}
}

func TestNewColumnNamesTheInputLine(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int, v text)`)
	nd := strings.Repeat("{\"id\": 1}\n", 5000) + "{\"id\": 2, \"v\": \"x\"}\n"
	r := run(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--quiet", writeFile(t, "a.ndjson", nd))
	if r.code != 1 || !strings.Contains(r.stderr, "  field: rows[5000].v\n") || !strings.Contains(r.stderr, "a.ndjson: row 5001\n") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int, v text)`)
	s.exec(t, `INSERT INTO t VALUES (1, 'old'), (2, 'old'), (3, 'keep')`)
	f := writeFile(t, "t.csv", "id,v\n1,a\n1,b\n2,c\n")
	// delete_insert's default: the key is a refresh scope, every row stays.
	m := decodeResponse(t, mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--pk", "id", "--json", f).stdout)
	if m["deleted"] != "2" || m["inserted"] != "3" || m["duplicatesDropped"] != "0" {
		t.Errorf("default: %v", m)
	}
	if got := s.query(t, `SELECT id || v FROM t ORDER BY id, v`); !reflect.DeepEqual(got, []string{"1a", "1b", "2c", "3keep"}) {
		t.Errorf("default: table %q", got)
	}
	r := run(t, nil, "load", "--addr", s.addr, "--table", "t", "--pk", "id", "--duplicates", "refuse", "--quiet", f)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "loadctl: InvalidArgument: ") || !strings.Contains(r.stderr, "hint: --duplicates keep_last keeps the last row of each key") {
		t.Fatalf("--duplicates refuse: exit %d\n%s", r.code, r.stderr)
	}
	m = decodeResponse(t, mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--pk", "id", "--duplicates", "keep_last", "--json", f).stdout)
	if m["duplicatesDropped"] != "1" || m["inserted"] != "2" || m["deleted"] != "3" {
		t.Errorf("--duplicates keep_last: %v", m)
	}
	if got := s.query(t, `SELECT id || v FROM t ORDER BY id, v`); !reflect.DeepEqual(got, []string{"1b", "2c", "3keep"}) {
		t.Errorf("--duplicates keep_last: table %q", got)
	}
}

func TestLoadConfigFromFlags(t *testing.T) {
	t.Parallel()
	var o loadOptions
	pos, err := parseArgs(newLoadFlags(&o), []string{"--table", "t", "--schema", "s", "--mode", "upsert", "--pk", "a, b",
		"--chunk-size", "500", "--duplicates", "keep_last", "--request-id", "job-1", "--plan", "f.csv"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, ro, err := o.check(pos)
	if err != nil {
		t.Fatal(err)
	}
	want := &loadsvcv1.LoadConfig{Table: "t", Schema: "s", Mode: loadsvcv1.Mode_MODE_UPSERT, Pk: []string{"a", "b"}, ChunkSize: 500,
		Duplicates: loadsvcv1.Duplicates_DUPLICATES_KEEP_LAST, RequestId: "job-1", PlanOnly: true}
	if !proto.Equal(cfg, want) || ro.comma != ',' {
		t.Errorf("got %v %q\nwant %v", cfg, ro.comma, want)
	}
	for name, d := range map[string]loadsvcv1.Duplicates{"refuse": loadsvcv1.Duplicates_DUPLICATES_REFUSE, "keep_all": loadsvcv1.Duplicates_DUPLICATES_KEEP_ALL} {
		o = loadOptions{}
		pos, _ = parseArgs(newLoadFlags(&o), []string{"--table", "t", "--duplicates", name, "--dry-run", "--sheet", "规模明细", "f.xlsx"})
		if cfg, ro, err = o.check(pos); err != nil || cfg.GetDuplicates() != d || !cfg.GetDryRun() || ro.sheet != "规模明细" || cfg.GetChunkSize() != 1_000_000 {
			t.Errorf("--duplicates %s --dry-run --sheet: %v %+v %v", name, cfg, ro, err)
		}
	}
}

// TestLoadConfigFromFlagsOfIssues20And21: the reject budget, the delete
// guard, the stamp column and the labels go into the LoadConfig; source is
// the file's name unless --label gives it.
func TestLoadConfigFromFlagsOfIssues20And21(t *testing.T) {
	t.Parallel()
	var o loadOptions
	pos, err := parseArgs(newLoadFlags(&o), []string{"--table", "t", "--max-rejected", "10", "--rejects", "r.csv", "--max-deleted", "500",
		"--stamp-column", "load_id", "--label", "run=2024-11", "--label", "host=w1", "f.csv"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := o.check(pos)
	if err != nil {
		t.Fatal(err)
	}
	want := &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_DELETE_INSERT, MaxRejectedRows: 10, MaxDeletedRows: 500, ChunkSize: defaultChunkSize,
		StampColumn: "load_id", Labels: map[string]string{"run": "2024-11", "host": "w1"}}
	if !proto.Equal(cfg, want) || o.rejects != "r.csv" {
		t.Errorf("got %v, rejects %q\nwant %v", cfg, o.rejects, want)
	}
}

func decodeResponse(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v:\n%s", err, s)
	}
	return m
}

func TestJSONOutput(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int, v text, g int GENERATED ALWAYS AS (id * 2) STORED)`)
	f := writeFile(t, "t.ndjson", `{"id": 1, "v": "x", "g": 0}`)
	m := decodeResponse(t, mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--chunk-size", "10", "--json", f).stdout)
	if m["table"] != "t" || m["mode"] != "MODE_APPEND" || m["inserted"] != "1" || m["rows"] != "1" ||
		!reflect.DeepEqual(m["skippedColumns"], []any{"g"}) || m["deleted"] != "0" {
		t.Errorf("got %v", m)
	}
}

func TestPlanRunsWithPsql(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE "年金计划" ("代码" text PRIMARY KEY, v text, n bigint, j jsonb)`)
	s.exec(t, `INSERT INTO "年金计划" VALUES ('P1', 'old', 1, NULL)`)
	nd := `{"代码": "P1", "v": "it's \\ a \"test\"\n\ttab", "n": 9007199254740993, "j": {"x": [1, 2.50]}}
{"代码": "P2", "v": null, "n": -1}
`
	f := writeFile(t, "plan.ndjson", nd)
	r := mustRun(t, nil, "load", "--addr", s.addr, "--table", "年金计划", "--pk", "代码", "--plan", f)
	if !strings.Contains(r.stdout, "BEGIN") || !strings.Contains(r.stdout, "COMMIT") {
		t.Fatalf("not a script:\n%s", r.stdout)
	}
	if got := s.query(t, `SELECT v FROM "年金计划"`); !reflect.DeepEqual(got, []string{"old"}) {
		t.Fatalf("--plan wrote to the table: %q", got)
	}
	out := runPsql(t, s.url, writeFile(t, "plan.sql", r.stdout))
	got := s.query(t, `SELECT concat_ws('|', "代码", v, n, j) FROM "年金计划" ORDER BY 1`)
	want := []string{"P1|it's \\ a \"test\"\n\ttab|9007199254740993|" + `{"x": [1, 2.50]}`, "P2|-1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after psql -f:\n%q\nwant %q\npsql:\n%s", got, want, out)
	}
}

func TestPlanRefusesTooManyRows(t *testing.T) {
	t.Parallel()
	s := startService(t)
	f := writeFile(t, "t.csv", "id\n1\n2\n3\n")
	r := run(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--plan", "--max-plan-rows", "2", f)
	if r.code != 1 || !strings.Contains(r.stderr, "t.csv has more than 2 rows, too many for --plan") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	// Within the bound, and with the JSON form.
	m := decodeResponse(t, mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--plan", "--max-plan-rows", "3", "--json", f).stdout)
	if m["planOnly"] != true || m["inserted"] != "3" || !strings.Contains(m["sqlScript"].(string), "COPY") {
		t.Errorf("got %v", m)
	}
}

// runPsql runs a script file with psql on the database at url.
func runPsql(t *testing.T, url, file string) string {
	t.Helper()
	psql := filepath.Join(cluster.BinDir(), "psql")
	if _, err := os.Stat(psql); err != nil {
		if psql, err = exec.LookPath("psql"); err != nil {
			t.Fatal("no psql found")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, psql, "-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	return string(out)
}

func TestProgressLines(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int, v text)`)
	pr, pw := io.Pipe()
	defer pw.Close()
	var stdout, stderr testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- realMain(ctx, []string{"load", "--addr", s.addr, "--table", "t", "--mode", "append"}, pr, &stdout, &stderr)
	}()
	if _, err := pw.Write([]byte("id,v\n1,a\n")); err != nil {
		t.Fatal(err)
	}
	// The second row once a progress line counted the first.
	testenv.WaitUntil(t, 20*time.Second, "a progress line for the first row", func() bool {
		return strings.Contains(stderr.String(), "loaded 1 rows")
	})
	if _, err := pw.Write([]byte("2,b\n")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if c := <-code; c != 0 {
		t.Fatalf("loadctl load: exit %d\nstderr:\n%s", c, stderr.String())
	}
	if !regexp.MustCompile(`(?m)^loaded 1 rows, \d+ rows/s$`).MatchString(stderr.String()) ||
		!regexp.MustCompile(`(?m)^read all 2 rows, \d+ rows/s; the service is finishing the load$`).MatchString(stderr.String()) {
		t.Errorf("no progress line on stderr:\n%s", stderr.String())
	}
	r := mustRun(t, strings.NewReader("id\n3\n"), "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--quiet")
	if r.stderr != "" {
		t.Errorf("--quiet printed:\n%s", r.stderr)
	}
}

func TestInterruptRollsBack(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int)`)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Rows keep coming until loadctl stops reading; the cancel (as
		// Ctrl-C would) comes when 50,000 were read, mid-stream.
		if _, err := pw.Write([]byte("id\n")); err != nil {
			return
		}
		for i := 1; ; i++ {
			if _, err := pw.Write([]byte("1\n")); err != nil {
				return
			}
			if i == 50000 {
				cancel()
			}
		}
	}()
	var out, errOut strings.Builder
	code := realMain(ctx, []string{"load", "--addr", s.addr, "--table", "t", "--mode", "append", "--quiet"}, pr, &out, &errOut)
	pr.Close() // ends the writer
	want := "loadctl: Canceled: interrupted: the load was cancelled and rolled back, nothing was written\n"
	if code != 1 || errOut.String() != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut.String(), want)
	}
	if got := s.query(t, `SELECT count(*)::text FROM t`); got[0] != "0" {
		t.Errorf("an interrupted load left %s rows", got[0])
	}
}
