// Package readme_test executes every grpcurl and loadctl example of the
// README against a live loadsvc (the real binary) on a throwaway PostgreSQL,
// and checks the output the README shows or the facts it states next to
// each example, so that the documentation cannot rot; and it holds the
// Development section's `make test` row to the Makefile.
package readme_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/testenv"
)

// readmeAddr is the address the README's examples use; the tests rewrite it
// to the address of their own server.
const readmeAddr = "127.0.0.1:50051"

var (
	cluster *pgtest.Cluster
	root    string // the repository root
	binDir  string // holds the loadsvc and loadctl built for these tests
	grpcurl string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	if root, err = filepath.Abs(filepath.Join("..", "..")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		fmt.Fprintf(os.Stderr, "readme: %s is not the repository root: %v\n", root, err)
		return 1
	}
	grpcurl = filepath.Join(root, "bin", "grpcurl")
	if fi, err := os.Stat(grpcurl); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		fmt.Fprintf(os.Stderr, "readme: FAIL: %s is missing (%v); run `make tools` to install the pinned grpcurl the README's examples use\n", grpcurl, err)
		return 1
	}
	if binDir, err = os.MkdirTemp("", "loadsvc-readme-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	for _, name := range []string{"loadsvc", "loadctl"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), "./cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "readme: build %s: %v\n%s", name, err, out)
			return 1
		}
	}
	return pgtest.Main(m, &cluster)
}

// TestREADMEExamples runs the README's grpcurl examples in README order on
// one fresh demo_nav, then its loadctl examples on another.
func TestREADMEExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := fencedBlocks(string(readme))
	t.Run("grpcurl", func(t *testing.T) {
		t.Parallel()
		testGrpcurlExamples(t, blocks)
	})
	t.Run("loadctl", func(t *testing.T) {
		t.Parallel()
		testLoadctlExamples(t, blocks)
	})
}

// block is one fenced code block of the README.
type block struct {
	lang string
	body string
	line int // line of the opening fence, 1-based
}

func fencedBlocks(md string) []block {
	var out []block
	var cur *block
	var body []string
	for i, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "```") {
			if cur != nil {
				body = append(body, l)
			}
			continue
		}
		if cur == nil {
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(l, "```")), line: i + 1}
			body = nil
			continue
		}
		cur.body = strings.Join(body, "\n")
		out = append(out, *cur)
		cur = nil
	}
	return out
}

// example is one command of a ```sh block.
type example struct {
	cmd     string // backslash-continued lines joined
	comment string // the comment line right above it, if any
	line    int    // README line the command starts on
}

// commands splits the ```sh blocks whose text contains marker into the
// commands starting with prefix. A command runs until the next command, a
// comment or a blank line; its lines continue with a trailing backslash or
// inside a quoted argument.
func commands(blocks []block, marker, prefix string) []example {
	var out []example
	for _, b := range blocks {
		if b.lang != "sh" || !strings.Contains(b.body, marker) || strings.Contains(b.body, sessionMarker) {
			continue // the load sessions' walk-through is one script (TestREADMELoadSessions)
		}
		var cur *example
		comment := ""
		flush := func() {
			if cur != nil {
				cur.cmd = strings.TrimSpace(strings.ReplaceAll(cur.cmd, "\\\n", " "))
				out = append(out, *cur)
				cur = nil
			}
		}
		for i, l := range strings.Split(b.body, "\n") {
			s := strings.TrimSpace(l)
			switch {
			case strings.HasPrefix(l, prefix):
				flush()
				cur = &example{cmd: l, comment: comment, line: b.line + 1 + i}
				comment = ""
			case s == "":
				flush()
				comment = ""
			case strings.HasPrefix(s, "#"):
				flush()
				comment = s
			case cur != nil:
				cur.cmd += "\n" + l
			}
		}
		flush()
	}
	return out
}

// server is a running loadsvc on a fresh database holding demo_nav.
type server struct {
	addr string
	url  string
}

// demoDDL is the demo table's DDL, taken from scripts/run.sh (what `make run`
// creates), so the examples run on exactly that table.
func demoDDL(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "scripts", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<<'SQL'\n(CREATE TABLE public\.demo_nav .*?)\nSQL\n`).FindSubmatch(b)
	if m == nil {
		t.Fatal("scripts/run.sh: no CREATE TABLE public.demo_nav heredoc found")
	}
	return string(m[1])
}

func startServer(t *testing.T) *server {
	t.Helper()
	s := &server{url: cluster.NewDatabase(t)}
	sqlExec(t, s.url, demoDDL(t))
	// Always a free port of our own (the examples are rewritten to it):
	// 50051 may be taken by `make run`, or taken between a check and the bind.
	p := testenv.StartProcess(t, filepath.Join(binDir, "loadsvc"), nil, "--database-url", s.url, "--log-format", "console")
	s.addr = p.Addr
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p.WaitServing(t, conn, "loadsvc.v1.LoadService")
	return s
}

// result is what a shell command did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// sh runs script with bash -c in dir with env added to the environment.
func sh(t *testing.T, dir, script string, env ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", script, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

func sqlExec(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// tableRows is demo_nav as text, one line per row in key order, NULL as ∅.
func tableRows(t *testing.T, url string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT concat_ws('|', report_date, plan_code, company_code,
		coalesce(return_rate::text, '∅'), coalesce(nav::text, '∅'), coalesce(scale::text, '∅'), coalesce(data_source, '∅'))
		FROM public.demo_nav ORDER BY report_date, plan_code, company_code`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: demo_nav holds\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// normalize collapses every run of white space into one space.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// response decodes grpcurl's JSON answer.
func response(t *testing.T, name string, r result) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("%s: output is not one JSON object: %v\n%s", name, err, r)
	}
	return m
}

// wantFields checks string-valued fields of a grpcurl response.
func wantFields(t *testing.T, name string, m map[string]any, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if got, ok := m[kv[i]]; !ok || got != kv[i+1] {
			t.Errorf("%s: %q is %#v (present %v), the README says %q", name, kv[i], got, ok, kv[i+1])
		}
	}
}

// onlyBlock returns the body of the single block of lang whose text
// contains marker.
func onlyBlock(t *testing.T, blocks []block, lang, marker string) string {
	t.Helper()
	var found []block
	for _, b := range blocks {
		if b.lang == lang && strings.Contains(b.body, marker) {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("README: %d ```%s blocks contain %q, want exactly 1", len(found), lang, marker)
	}
	return found[0].body
}

// A grpcurl check knows one README example: match tells it from the
// others, check runs it (with the address rewritten) and checks what the
// README shows or states next to it.
type grpcurlCheck struct {
	name  string
	match func(cmd string) bool
	check func(t *testing.T, s *server, run func() result)
}

func has(subs ...string) func(string) bool {
	return func(cmd string) bool {
		for _, s := range subs {
			if !strings.Contains(cmd, s) {
				return false
			}
		}
		return true
	}
}

func testGrpcurlExamples(t *testing.T, blocks []block) {
	examples := commands(blocks, "bin/grpcurl", "bin/grpcurl ")
	appendJSON := onlyBlock(t, blocks, "json", `"mode": "MODE_APPEND"`)
	dupError := onlyBlock(t, blocks, "", "Code: AlreadyExists")
	badRowsError := onlyBlock(t, blocks, "", "Code: InvalidArgument")
	if !strings.HasPrefix(strings.TrimSpace(dupError), "ERROR:") {
		t.Fatalf("README: the duplicate-key error block does not start with ERROR:\n%s", dupError)
	}

	guardError := onlyBlock(t, blocks, "", "Code: FailedPrecondition")
	var lineageID string // the load id of the lineage example
	checks := []grpcurlCheck{
		{"append", has(`"MODE_APPEND"`), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("append: %s", r)
			}
			// The load id is new for every load: the README's stands for it.
			out := loadID.ReplaceAllString(r.stdout, loadID.FindString(appendJSON))
			if got, want := normalize(out), normalize(appendJSON); got != want || !loadID.MatchString(appendJSON) {
				t.Errorf("append: output\n%s\ndiffers from the README's ```json block\n%s", r.stdout, appendJSON)
			}
			// "Run it twice and the second time PostgreSQL refuses the
			// duplicate key; nothing of that request is written."
			r = run()
			if r.code == 0 || !strings.Contains(normalize(r.stderr+r.stdout), normalize(dupError)) {
				t.Errorf("append twice: want a failure showing the README's\n%s\ngot %s", dupError, r)
			}
			equalRows(t, "after append twice", tableRows(t, s.url), []string{
				"2024-11-01|P001|C01|0.012345|1.2345|1000000.50|manual",
				"2024-11-01|P002|C01|∅|2.5000|∅|∅",
			})
		}},
		{"delete_insert", has(`"MODE_DELETE_INSERT"`), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("delete_insert: %s", r)
			}
			m := response(t, "delete_insert", r)
			wantFields(t, "delete_insert", m, "deleted", "1", "inserted", "2")
			if st, _ := m["statements"].([]any); len(st) == 0 {
				t.Errorf("delete_insert: no statements listed:\n%s", r.stdout)
			}
			equalRows(t, "after delete_insert", tableRows(t, s.url), []string{
				"2024-11-01|P001|C01|∅|1.3000|∅|∅",
				"2024-11-01|P002|C01|∅|2.5000|∅|∅",
				"2024-11-02|P001|C01|∅|1.4000|∅|∅",
			})
		}},
		{"plan only", has(`"planOnly": true`), func(t *testing.T, s *server, run func() result) {
			before := tableRows(t, s.url)
			r := run()
			if r.code != 0 {
				t.Fatalf("plan: %s", r)
			}
			script, _ := response(t, "plan", r)["sqlScript"].(string)
			if script == "" {
				t.Fatalf("plan: no sqlScript:\n%s", r.stdout)
			}
			for _, w := range []string{"BEGIN", "COMMIT"} {
				if !strings.Contains(script, w) {
					t.Errorf("plan: the script has no %s:\n%s", w, script)
				}
			}
			equalRows(t, "after the plan (nothing may change)", tableRows(t, s.url), before)
			// "save it and run psql -X -v ON_ERROR_STOP=1 -f plan.sql"
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "plan.sql"), []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			psql := filepath.Join(cluster.BinDir(), "psql")
			if r := sh(t, dir, `"$PSQL" -X -v ON_ERROR_STOP=1 -f plan.sql -d "$URL"`, "PSQL="+psql, "URL="+s.url); r.code != 0 {
				t.Fatalf("psql -f plan.sql: %s", r)
			}
			equalRows(t, "after psql -f plan.sql", tableRows(t, s.url), append(before, "2024-11-03|P009|C02|∅|9.9000|∅|∅"))
		}},
		{"dry run", has(`"dryRun": true`), func(t *testing.T, s *server, run func() result) {
			before := tableRows(t, s.url)
			r := run()
			if r.code != 0 {
				t.Fatalf("dry run: %s", r)
			}
			// "deletes the one row there (deleted: 1), inserts two; the table stays as it is"
			resp := response(t, "dry run", r)
			wantFields(t, "dry run", resp, "deleted", "1", "inserted", "2")
			if resp["dryRun"] != true {
				t.Errorf("dry run: dryRun is %#v, the README says true", resp["dryRun"])
			}
			equalRows(t, "after the dry run (nothing may change)", tableRows(t, s.url), before)
		}},
		{"upsert", has(`"MODE_UPSERT"`), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("upsert: %s", r)
			}
			wantFields(t, "upsert", response(t, "upsert", r), "updated", "1")
			rows := tableRows(t, s.url)
			if !contains(rows, "2024-11-02|P001|C01|∅|1.5000|∅|fix") {
				t.Errorf("upsert: the existing row was not updated:\n%s", strings.Join(rows, "\n"))
			}
		}},
		{"insert_missing", has(`"MODE_INSERT_MISSING"`), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("insert_missing: %s", r)
			}
			wantFields(t, "insert_missing", response(t, "insert_missing", r), "inserted", "1", "skipped", "1")
			rows := tableRows(t, s.url)
			if !contains(rows, "2024-11-02|P001|C01|∅|1.5000|∅|fix") || !contains(rows, "2024-11-04|P001|C01|∅|1.6000|∅|∅") {
				t.Errorf("insert_missing: existing row touched or missing one not inserted:\n%s", strings.Join(rows, "\n"))
			}
		}},
		{"fill_null_only", has(`"MODE_FILL_NULL_ONLY"`), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("fill_null_only: %s", r)
			}
			wantFields(t, "fill_null_only", response(t, "fill_null_only", r), "updated", "1")
			// "return_rate is NULL for 2024-11-04, so it is filled; nav is kept"
			rows := tableRows(t, s.url)
			if !contains(rows, "2024-11-04|P001|C01|0.010100|1.6000|∅|∅") {
				t.Errorf("fill_null_only: want return_rate filled and nav kept:\n%s", strings.Join(rows, "\n"))
			}
		}},
		{"replace", has(`"MODE_REPLACE"`), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("replace: %s", r)
			}
			wantFields(t, "replace", response(t, "replace", r), "inserted", "1")
			// "the table becomes exactly these rows"
			equalRows(t, "after replace", tableRows(t, s.url), []string{"2024-12-01|P100|C09|∅|1.0000|∅|∅"})
		}},
		{"refresh key", has(`"pk": ["report_date"]}`), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("refresh key: %s", r)
			}
			// "every row of 2024-12-01 goes (deleted: 1), both rows come in (inserted: 2)"
			wantFields(t, "refresh key", response(t, "refresh key", r), "deleted", "1", "inserted", "2")
			equalRows(t, "after the refresh-key load", tableRows(t, s.url), []string{
				"2024-12-01|P101|C09|∅|1.1000|∅|∅",
				"2024-12-01|P102|C09|∅|1.2000|∅|∅",
			})
		}},
		{"duplicates keep-last", has(`"DUPLICATES_KEEP_LAST"`), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("keep-last: %s", r)
			}
			wantFields(t, "keep-last", response(t, "keep-last", r), "duplicatesDropped", "1", "inserted", "1")
			// "the last row in request order wins"
			equalRows(t, "after keep-last", tableRows(t, s.url), []string{
				"2024-11-05|P001|C01|∅|2.0000|∅|∅",
				"2024-12-01|P101|C09|∅|1.1000|∅|∅",
				"2024-12-01|P102|C09|∅|1.2000|∅|∅",
			})
		}},
		{"bad rows", func(cmd string) bool {
			return strings.Contains(cmd, `"2024-13-01"`) && !strings.Contains(cmd, "maxRejectedRows")
		}, func(t *testing.T, s *server, run func() result) {
			before := tableRows(t, s.url)
			r := run()
			out := normalize(r.stderr + r.stdout)
			// "INVALID_ARGUMENT naming both (rows 1 and 2), nothing written"
			if r.code == 0 || !strings.Contains(out, normalize(badRowsError)) {
				t.Errorf("bad rows: want a failure showing the README's\n%s\ngot %s", badRowsError, r)
			}
			for _, w := range []string{`"row": "1", "column": "report_date", "value": "2024-13-01", "sqlstate": "22008"`,
				`"row": "2", "column": "return_rate", "value": "123.5", "sqlstate": "22003"`} {
				if !strings.Contains(out, normalize(w)) {
					t.Errorf("bad rows: the RowErrors detail lacks %s:\n%s", w, r)
				}
			}
			equalRows(t, "after the bad rows (nothing may change)", tableRows(t, s.url), before)
		}},
		{"reject budget", has(`"maxRejectedRows": 2`), func(t *testing.T, s *server, run func() result) {
			before := tableRows(t, s.url)
			r := run()
			if r.code != 0 {
				t.Fatalf("reject budget: %s", r)
			}
			// "P201 is written (inserted: 1), the two others rejected (rejectedRows: 2)"
			resp := response(t, "reject budget", r)
			wantFields(t, "reject budget", resp, "inserted", "1", "rejectedRows", "2")
			if rej, _ := resp["rejected"].([]any); len(rej) != 2 {
				t.Errorf("reject budget: %d rejected rows listed, want 2:\n%s", len(rej), r.stdout)
			}
			equalRows(t, "after the reject budget", tableRows(t, s.url), append(before, "2024-12-02|P201|C10|∅|1.0000|∅|∅"))
		}},
		{"delete guard", has(`"maxDeletedRows": "1"`), func(t *testing.T, s *server, run func() result) {
			before := tableRows(t, s.url)
			r := run()
			if r.code == 0 || !strings.Contains(normalize(r.stderr+r.stdout), normalize(guardError)) {
				t.Errorf("delete guard: want a failure showing the README's\n%s\ngot %s", guardError, r)
			}
			equalRows(t, "after the refused load (nothing may change)", tableRows(t, s.url), before)
		}},
		{"labels and stamp", has(`"stampColumn": "data_source"`), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("labels and stamp: %s", r)
			}
			resp := response(t, "labels and stamp", r)
			wantFields(t, "labels and stamp", resp, "deleted", "2", "inserted", "1")
			lineageID, _ = resp["loadId"].(string)
			// "data_source receives the load id (the answer's loadId)"
			equalRows(t, "after the stamped load", tableRows(t, s.url), []string{
				"2024-11-05|P001|C01|∅|2.0000|∅|∅",
				"2024-12-01|P103|C09|∅|1.3000|∅|" + lineageID,
				"2024-12-02|P201|C10|∅|1.0000|∅|∅", // the reject budget's row, another company
			})
		}},
		{"history", has("LoadService/ListLoads"), func(t *testing.T, s *server, run func() result) {
			r := run()
			if r.code != 0 {
				t.Fatalf("history: %s", r)
			}
			// "the load above (committed, deleted 2), then the refused one (failed)"
			var page struct {
				Loads []struct {
					LoadID, Status, Code, Deleted string
					Labels                        map[string]string
				}
				NextPageToken string
			}
			if err := json.Unmarshal([]byte(r.stdout), &page); err != nil {
				t.Fatalf("history: %v\n%s", err, r)
			}
			if len(page.Loads) != 2 || page.NextPageToken == "" {
				t.Fatalf("history: want 2 loads and a next page:\n%s", r.stdout)
			}
			got, refused := page.Loads[0], page.Loads[1]
			if got.LoadID != lineageID || got.Status != "committed" || got.Code != "OK" || got.Deleted != "2" || got.Labels["source"] != "nav-2024-12.csv" {
				t.Errorf("history: the newest load is %+v, want the stamped load %s", got, lineageID)
			}
			if refused.Status != "failed" || refused.Code != "FAILED_PRECONDITION" {
				t.Errorf("history: the load before is %+v, want the refused one", refused)
			}
		}},
	}

	// Every example must be known, in README order, and every check must
	// have its example: a new example needs a new check.
	if len(examples) != len(checks) {
		var cmds []string
		for _, e := range examples {
			cmds = append(cmds, fmt.Sprintf("README.md:%d: %s", e.line, e.cmd))
		}
		t.Fatalf("README has %d grpcurl examples, this test checks %d; teach it the new ones:\n%s",
			len(examples), len(checks), strings.Join(cmds, "\n"))
	}
	for i, e := range examples {
		var matched []string
		for _, c := range checks {
			if c.match(e.cmd) {
				matched = append(matched, c.name)
			}
		}
		if len(matched) != 1 || matched[0] != checks[i].name {
			t.Fatalf("README.md:%d: grpcurl example %d matches checks %q, want exactly %q (examples and checks go in README order):\n%s",
				e.line, i+1, matched, checks[i].name, e.cmd)
		}
		if !strings.Contains(e.cmd, readmeAddr) {
			t.Fatalf("README.md:%d: the example does not use %s:\n%s", e.line, readmeAddr, e.cmd)
		}
	}

	s := startServer(t)
	for i, e := range examples {
		cmd := strings.ReplaceAll(e.cmd, readmeAddr, s.addr)
		run := func() result { return sh(t, root, cmd) }
		if !t.Run(checks[i].name, func(t *testing.T) { checks[i].check(t, s, run) }) {
			t.Fatalf("README.md:%d: the %s example failed; the later ones depend on it:\n%s", e.line, checks[i].name, e.cmd)
		}
	}
}

// loadID is a load id as grpcurl prints it.
var loadID = regexp.MustCompile(`"loadId": "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"`)

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// The input files the loadctl examples name, as the README describes them:
// nav.csv in psql's CSV HEADER conventions (unquoted empty is NULL, "" is the
// empty string), fix.ndjson one JSON object a line.
const (
	navCSV = `report_date,plan_code,company_code,return_rate,nav,scale,data_source
2024-11-01,P001,C01,0.012345,1.2345,1000000.5,manual
2024-11-01,P002,C01,,2.5,,
2024-11-02,P001,C01,,1.4,,""
`
	fixNDJSON = `{"report_date": "2024-11-02", "plan_code": "P001", "company_code": "C01", "nav": 1.5, "data_source": "fix"}
{"report_date": "2024-11-06", "plan_code": "P001", "company_code": "C01", "nav": 1.7}
`
)

// afterPlan is demo_nav after the loadctl examples up to the plan.
var afterPlan = []string{
	"2024-11-01|P001|C01|0.012345|1.2345|1000000.50|manual",
	"2024-11-01|P002|C01|∅|2.5000|∅|∅",
	"2024-11-02|P001|C01|∅|1.5000|∅|fix",
	"2024-11-06|P001|C01|∅|1.7000|∅|∅",
}

// writeMonthlyXLSX writes monthly.xlsx as the README describes it: a first
// sheet of notes, then the sheet 净值 with three rows of 2024-11-01 (a date
// cell), empty cells for NULL.
func writeMonthlyXLSX(t *testing.T, path string) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	date, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	const day = 45597.0 // 2024-11-01
	for _, err := range []error{
		f.SetSheetName("Sheet1", "说明"),
		f.SetCellStr("说明", "A1", "monthly NAV"),
		func() error { _, err := f.NewSheet("净值"); return err }(),
		f.SetSheetRow("净值", "A1", &[]any{"report_date", "plan_code", "company_code", "return_rate", "nav", "scale"}),
		f.SetSheetRow("净值", "A2", &[]any{day, "P001", "C01", 0.0123, 1.25}),
		f.SetSheetRow("净值", "A3", &[]any{day, "P002", "C01", nil, 2.75}),
		f.SetSheetRow("净值", "A4", &[]any{day, "P003", "C02", nil, 1, 5000000.5}),
		f.SetCellStyle("净值", "A2", "A4", date),
		f.SaveAs(path),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func testLoadctlExamples(t *testing.T, blocks []block) {
	examples := commands(blocks, "loadctl load", "loadctl ")
	type check struct {
		name  string
		match func(string) bool
		check func(t *testing.T, s *server, dir string, r result)
	}
	checks := []check{
		{"load nav.csv", has("loadctl load", "--mode delete_insert", " nav.csv"), func(t *testing.T, s *server, dir string, r result) {
			if r.code != 0 {
				t.Fatalf("load nav.csv: %s", r)
			}
			equalRows(t, "after loadctl load nav.csv", tableRows(t, s.url), []string{
				"2024-11-01|P001|C01|0.012345|1.2345|1000000.50|manual",
				"2024-11-01|P002|C01|∅|2.5000|∅|∅",
				"2024-11-02|P001|C01|∅|1.4000|∅|",
			})
		}},
		{"plan fix.ndjson", has("loadctl load", "--mode upsert", "--plan", " fix.ndjson", "> plan.sql"), func(t *testing.T, s *server, dir string, r result) {
			if r.code != 0 {
				t.Fatalf("plan fix.ndjson: %s", r)
			}
			before := tableRows(t, s.url)
			script, err := os.ReadFile(filepath.Join(dir, "plan.sql"))
			if err != nil {
				t.Fatalf("plan.sql was not produced: %v", err)
			}
			if !bytes.Contains(script, []byte("BEGIN")) || !bytes.Contains(script, []byte("COMMIT")) {
				t.Fatalf("plan.sql is not a load script:\n%s", script)
			}
			psql := filepath.Join(cluster.BinDir(), "psql")
			if r := sh(t, dir, `"$PSQL" -X -v ON_ERROR_STOP=1 -f plan.sql -d "$URL"`, "PSQL="+psql, "URL="+s.url); r.code != 0 {
				t.Fatalf("psql -f plan.sql: %s", r)
			}
			equalRows(t, "after psql -f plan.sql", tableRows(t, s.url), []string{
				before[0], before[1],
				"2024-11-02|P001|C01|∅|1.5000|∅|fix",
				"2024-11-06|P001|C01|∅|1.7000|∅|∅",
			})
		}},
		{"health", func(cmd string) bool { return strings.TrimSpace(cmd) == "loadctl health" }, func(t *testing.T, s *server, dir string, r result) {
			if r.code != 0 {
				t.Fatalf("health: %s", r)
			}
		}},
		{"dry-run monthly.xlsx", has("loadctl load", "--sheet 净值", "--dry-run", " monthly.xlsx"), func(t *testing.T, s *server, dir string, r result) {
			if r.code != 0 {
				t.Fatalf("dry-run monthly.xlsx: %s", r)
			}
			// "the dry run prints deleted 2, inserted 3 and dry run yes: …
			// nothing was written, and leaves the table as it was"
			for _, w := range []string{"deleted 2", "inserted 3", "dry run yes: the load ran and was rolled back, nothing was written"} {
				if !strings.Contains(normalize(r.stdout), w) {
					t.Errorf("dry-run monthly.xlsx: stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			equalRows(t, "after the dry run (nothing may change)", tableRows(t, s.url), afterPlan)
		}},
		{"load monthly.xlsx", func(cmd string) bool {
			return has("loadctl load", "--sheet 净值", " monthly.xlsx")(cmd) && !strings.Contains(cmd, "--dry-run")
		}, func(t *testing.T, s *server, dir string, r result) {
			if r.code != 0 {
				t.Fatalf("load monthly.xlsx: %s", r)
			}
			// "--pk report_date refreshes that day"
			equalRows(t, "after loadctl load monthly.xlsx", tableRows(t, s.url), append([]string{
				"2024-11-01|P001|C01|0.012300|1.2500|∅|∅",
				"2024-11-01|P002|C01|∅|2.7500|∅|∅",
				"2024-11-01|P003|C02|∅|1.0000|5000000.50|∅",
			}, afterPlan[2:]...))
		}},
	}
	if len(examples) != len(checks) {
		var cmds []string
		for _, e := range examples {
			cmds = append(cmds, fmt.Sprintf("README.md:%d: %s", e.line, e.cmd))
		}
		t.Fatalf("README has %d loadctl examples, this test checks %d; teach it the new ones:\n%s",
			len(examples), len(checks), strings.Join(cmds, "\n"))
	}
	for i, e := range examples {
		var matched []string
		for _, c := range checks {
			if c.match(e.cmd) {
				matched = append(matched, c.name)
			}
		}
		if len(matched) != 1 || matched[0] != checks[i].name {
			t.Fatalf("README.md:%d: loadctl example %d matches checks %q, want exactly %q (in README order):\n%s",
				e.line, i+1, matched, checks[i].name, e.cmd)
		}
	}

	s := startServer(t)
	dir := t.TempDir()
	for name, text := range map[string]string{"nav.csv": navCSV, "fix.ndjson": fixNDJSON} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeMonthlyXLSX(t, filepath.Join(dir, "monthly.xlsx"))
	// The built loadctl comes first on PATH; LOADSVC_ADDR points it at the
	// test's server instead of the default 127.0.0.1:50051.
	env := []string{"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "LOADSVC_ADDR=" + s.addr, "LOADSVC_TOKEN="}
	for i, e := range examples {
		r := sh(t, dir, e.cmd, env...)
		if !t.Run(checks[i].name, func(t *testing.T) { checks[i].check(t, s, dir, r) }) {
			t.Fatalf("README.md:%d: the %s example failed:\n%s", e.line, checks[i].name, e.cmd)
		}
	}
}
