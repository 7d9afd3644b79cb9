package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// scaleTable is a 规模明细-shaped table with the kinds of columns the
// monthly sheets fill, and a CHECK.
const scaleTable = `CREATE TABLE "规模明细" (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	"月度" date NOT NULL, "计划代码" varchar(12) NOT NULL, "期末资产规模" numeric(18,4), "当期收益率" numeric(10,6),
	"户数" integer, "供款" numeric(18,4) CHECK ("供款" >= 0), "备注" text)`

// scaleColumns are its columns as the files name them, in file order.
var scaleColumns = []string{"月度", "计划代码", "期末资产规模", "当期收益率", "户数", "供款", "备注"}

// scaleRows are eleven rows with seven bad cells, one in each of rows 2
// and 4-9 (0-based); row 1 has a line break in its text.
var scaleRows = [][]string{
	{"2024-11-01", "P0001", "100.5", "0.031", "10", "5", "ok"},
	{"2024-11-01", "P0002", "200", "0.02", "11", "0", "two\nlines"},
	{"2024-13-01", "P0003", "300", "0.01", "12", "1", ""},               // bad date
	{"2024-11-01", "P0004", "400", "0.01", "13", "1", ""},               //
	{"2024-11-01", "P0005", "一百万", "0.01", "14", "1", ""},               // not a number
	{"2024-11-01", "P0006", "500", "12345.678", "15", "1", ""},          // numeric(10,6) overflow
	{"2024-11-01", "P000712345678901234567", "600", "0", "16", "1", ""}, // 22 characters in varchar(12)
	{"2024-11-01", "", "700", "0", "17", "1", ""},                       // NULL in NOT NULL
	{"2024-11-01", "P0009", "800", "0", "18", "-5", ""},                 // CHECK
	{"2024-11-01", "P0010", "900", "0", "3.5", "1", ""},                 // 3.5 in an integer
	{"2024-11-01", "P0011", "1000", "0", "20", "1", ""},
}

// badCell is one bad cell of scaleRows: its row, column and SQLSTATE.
type badCell struct {
	row    int
	column string
	state  string
}

var scaleBad = []badCell{
	{2, "月度", "22008"}, {4, "期末资产规模", "22P02"}, {5, "当期收益率", "22003"}, {6, "计划代码", "22001"},
	{7, "计划代码", "23502"}, {8, "供款", "23514"}, {9, "户数", "22P02"},
}

// scaleCSV is scaleRows as CSV, with a blank line after row 3: row i
// starts on line csvLine[i].
func scaleCSV() (string, []int) {
	var b strings.Builder
	b.WriteString(strings.Join(scaleColumns, ",") + "\n")
	line, lines := 2, make([]int, len(scaleRows))
	for i, r := range scaleRows {
		lines[i] = line
		fields := make([]string, len(r))
		for j, v := range r {
			fields[j] = v
			if strings.Contains(v, "\n") {
				fields[j] = `"` + v + `"`
			}
		}
		b.WriteString(strings.Join(fields, ",") + "\n")
		line += 1 + strings.Count(r[6], "\n")
		if i == 3 {
			b.WriteString("\n")
			line++
		}
	}
	return b.String(), lines
}

// scaleBook is scaleRows as the sheet 规模明细 of a workbook, the header
// on row 1 from column B, an empty row after row 3: row i is on sheet row
// sheetRow[i].
func scaleBook(t *testing.T) (string, []int) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "规模明细"); err != nil {
		t.Fatal(err)
	}
	set := func(row int, vals []string) {
		cells := make([]any, len(vals))
		for i, v := range vals {
			if v != "" {
				cells[i] = v
			}
		}
		if err := f.SetSheetRow("规模明细", cellName(2, row), &cells); err != nil {
			t.Fatal(err)
		}
	}
	set(1, scaleColumns)
	rows := make([]int, len(scaleRows))
	for i, r := range scaleRows {
		rows[i] = i + 2
		if i > 3 {
			rows[i]++
		}
		set(rows[i], r)
	}
	p := filepath.Join(t.TempDir(), "monthly.xlsx")
	if err := f.SaveAs(p); err != nil {
		t.Fatal(err)
	}
	return p, rows
}

// wantBadLines fails unless stderr has, after the status line, one line
// per bad cell in row order: its place, the column (but for a CHECK, which
// may name none), the value as the file has it, PostgreSQL's reason and
// the SQLSTATE.
func wantBadLines(t *testing.T, stderr string, place func(b badCell) string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if l != "" && !strings.HasPrefix(l, "loadctl: ") && !strings.HasPrefix(l, "  ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(scaleBad) {
		t.Fatalf("%d bad-row lines, want %d:\n%s", len(lines), len(scaleBad), stderr)
	}
	for i, b := range scaleBad {
		want := regexp.QuoteMeta(place(b)) + `, column "` + b.column + `"`
		if v := scaleRows[b.row][slices.Index(scaleColumns, b.column)]; v != "" {
			want += `, value "` + regexp.QuoteMeta(v) + `"`
		}
		if b.state == "23514" { // a CHECK is a verdict on the row: the column is optional
			want = regexp.QuoteMeta(place(badCell{row: b.row})) + `(, column "供款")?(, value "-5")?`
		}
		re := regexp.MustCompile(`^` + want + `: .+ \(SQLSTATE ` + b.state + `\)$`)
		if !re.MatchString(lines[i]) {
			t.Errorf("bad row %d: %q\nwant it to match %s", i, lines[i], re)
		}
	}
}

// TestSevenBadCellsInOneRunCSV: the seven-cell file of issue 20 through
// loadctl: one run names every bad cell by the line it is on (the header,
// a record spanning two lines and a blank line counted), exits 1, and
// writes nothing.
func TestSevenBadCellsInOneRunCSV(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, scaleTable)
	csv, lines := scaleCSV()
	f := writeFile(t, "monthly.csv", csv)
	for _, extra := range [][]string{nil, {"--dry-run"}, {"--max-rejected", "6"}} {
		r := run(t, nil, append([]string{"load", "--addr", s.addr, "--table", "规模明细", "--mode", "append", "--quiet", f}, extra...)...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "loadctl: ") {
			t.Fatalf("%v: exit %d, stderr:\n%s", extra, r.code, r.stderr)
		}
		t.Logf("loadctl load %v monthly.csv: exit %d, stderr:\n%s", extra, r.code, r.stderr)
		wantBadLines(t, r.stderr, func(b badCell) string { return "line " + itoa(int64(lines[b.row])) })
	}
	if got := s.query(t, `SELECT count(*)::text FROM "规模明细"`); got[0] != "0" {
		t.Errorf("a refused load left %s rows", got[0])
	}
}

// TestSevenBadCellsInOneRunXLSX: the same rows as a sheet whose header
// starts in column B: each bad value is named by its cell.
func TestSevenBadCellsInOneRunXLSX(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, scaleTable)
	book, rows := scaleBook(t)
	r := run(t, nil, "load", "--addr", s.addr, "--table", "规模明细", "--mode", "append", "--quiet", book)
	if r.code != 1 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	t.Logf("loadctl load monthly.xlsx: stderr:\n%s", r.stderr)
	wantBadLines(t, r.stderr, func(b badCell) string {
		if b.column == "" {
			return "规模明细!" + itoa(int64(rows[b.row])) + ":" + itoa(int64(rows[b.row]))
		}
		return "规模明细!" + cellName(2+slices.Index(scaleColumns, b.column), rows[b.row])
	})
}

// TestBadRowsInNDJSON: NDJSON rows are named by the line they start on.
func TestBadRowsInNDJSON(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int, day date)`)
	nd := "{\"id\": 1, \"day\": \"2024-11-01\"}\n\n{\n  \"id\": 2,\n  \"day\": \"2024-13-01\"\n}\n{\"id\": \"x\", \"day\": null}\n"
	r := run(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--quiet", writeFile(t, "a.ndjson", nd))
	if r.code != 1 || !strings.Contains(r.stderr, "\nline 3, column \"day\", value \"2024-13-01\": ") ||
		!strings.Contains(r.stderr, "\nline 7, column \"id\", value \"x\": ") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestRejectsFile: under --max-rejected 7 the good rows are loaded, the
// bad ones printed and written to --rejects with their original values,
// position, column, sqlstate and reason; from stdin too.
func TestRejectsFile(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, scaleTable)
	csv, lines := scaleCSV()
	f := writeFile(t, "monthly.csv", csv)
	for _, stdin := range []bool{false, true} {
		s.exec(t, `TRUNCATE "规模明细"`)
		rejects := filepath.Join(t.TempDir(), "rejects.csv")
		args := []string{"load", "--addr", s.addr, "--table", "规模明细", "--mode", "append", "--quiet", "--max-rejected", "7", "--rejects", rejects}
		var r result
		if stdin {
			r = mustRun(t, strings.NewReader(csv), append(args, "--format", "csv", "-")...)
		} else {
			r = mustRun(t, nil, append(args, f)...)
		}
		if !strings.Contains(r.stdout, "rejected            7\n") || !strings.Contains(r.stdout, "inserted            4\n") ||
			!strings.HasPrefix(r.stderr, "loadctl: 7 bad rows left out (--max-rejected 7):\n") {
			t.Errorf("stdin %v: stdout:\n%s\nstderr:\n%s", stdin, r.stdout, r.stderr)
		}
		got := s.query(t, `SELECT "计划代码" FROM "规模明细" ORDER BY id`)
		if want := []string{"P0001", "P0002", "P0004", "P0011"}; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("stdin %v: table %q, want %q", stdin, got, want)
		}
		b, err := os.ReadFile(rejects)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csvAll(t, string(b), nil)
		if err != nil || len(recs) != len(scaleBad) {
			t.Fatalf("rejects file (%v):\n%s", err, b)
		}
		for i, bad := range scaleBad {
			rec, src := recs[i], scaleRows[bad.row]
			for j, c := range scaleColumns {
				want := any(src[j])
				if src[j] == "" {
					want = nil // an unquoted empty field: NULL, as in the source
				}
				if rec[c] != want {
					t.Errorf("rejected row %d, %s: %v, want %v", i, c, rec[c], want)
				}
			}
			if rec["position"] != "line "+itoa(int64(lines[bad.row])) || rec["sqlstate"] != bad.state || rec["reason"] == nil {
				t.Errorf("rejected row %d: %v", i, rec)
			}
			if bad.state != "23514" && rec["column"] != bad.column {
				t.Errorf("rejected row %d: column %v, want %s", i, rec["column"], bad.column)
			}
		}
	}
}

// TestLabelsHistoryAndDeleteGuard: a load records its labels (source by
// default: the file's name, and the sheet), --max-deleted refuses a load
// that would delete more (a dry run too), --stamp-column stamps the load id
// printed, and loadctl history lists the loads newest first, as a table or
// JSON.
func TestLabelsHistoryAndDeleteGuard(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (k int, v text, lid text)`)
	s.exec(t, `INSERT INTO t SELECT 1, 'old' FROM generate_series(1, 5)`)
	f := writeFile(t, "nov.csv", "k,v\n1,new\n")
	base := []string{"load", "--addr", s.addr, "--table", "t", "--pk", "k", "--quiet"}
	for _, extra := range [][]string{{"--max-deleted", "4"}, {"--max-deleted", "4", "--dry-run"}} {
		r := run(t, nil, append(append(base, extra...), f)...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "loadctl: FailedPrecondition: ") || !strings.Contains(r.stderr, "  reason: DELETE_LIMIT_EXCEEDED\n") {
			t.Errorf("%v: exit %d, stderr:\n%s", extra, r.code, r.stderr)
		}
	}
	if got := s.query(t, `SELECT count(*)::text FROM t WHERE v = 'old'`); got[0] != "5" {
		t.Fatalf("refused loads changed the table: %s old rows left", got[0])
	}
	r := mustRun(t, nil, append(base, "--max-deleted", "5", "--label", "run=42", "--stamp-column", "lid", f)...)
	id := regexp.MustCompile(`(?m)^load id +(\S+)$`).FindStringSubmatch(r.stdout)
	if id == nil || !strings.Contains(r.stdout, "deleted             5\n") {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	if got := s.query(t, `SELECT k || ' ' || v || ' ' || lid FROM t`); len(got) != 1 || got[0] != "1 new "+id[1] {
		t.Errorf("after the stamped load: %q, want the row stamped with %s", got, id[1])
	}
	s.exec(t, xlsxTable)
	mustRun(t, nil, "load", "--addr", s.addr, "--table", "规模明细", "--sheet", "规模明细", "--mode", "append", "--quiet", writeWorkbook(t))

	r = mustRun(t, nil, "history", "--addr", s.addr, "--json", "--since", "1h")
	var recs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 3 { // the dry run is not recorded
		t.Fatalf("history --json (%v):\n%s", err, r.stdout)
	}
	labels := func(i int) map[string]any { m, _ := recs[i]["labels"].(map[string]any); return m }
	if recs[0]["table"] != "规模明细" || labels(0)["source"] != "monthly.xlsx!规模明细" || recs[0]["inserted"] != "3" {
		t.Errorf("newest record: %v", recs[0])
	}
	if recs[1]["loadId"] != id[1] || recs[1]["status"] != "committed" || labels(1)["source"] != "nov.csv" || labels(1)["run"] != "42" {
		t.Errorf("second record: %v", recs[1])
	}
	if recs[2]["status"] != "failed" || recs[2]["code"] != "FAILED_PRECONDITION" {
		t.Errorf("the refused load's record: %v", recs[2])
	}
	r = mustRun(t, nil, "history", "--addr", s.addr, "--table", "t", "--status", "committed", "--limit", "1")
	t.Logf("loadctl history --table t --status committed --limit 1:\n%s", r.stdout)
	table := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(table) != 2 || !strings.HasPrefix(table[0], "STARTED (UTC)") || !strings.Contains(table[1], id[1]) || !strings.Contains(table[1], "run=42,source=nov.csv") {
		t.Errorf("history table:\n%s", r.stdout)
	}
}

// TestBadRowsOfAMillionInBoundedMemory: a million rows, each spanning two
// lines (so every row is a break in the position index, which keeps only
// the first 64Ki), with 100 bad dates spread through them, loaded under
// --max-rejected 100 by the built binary: every bad row is named by its
// line (those past the index's bound found by reading the file again), the
// rejects file holds the 100 rows, and memory stays bounded.
func TestBadRowsOfAMillionInBoundedMemory(t *testing.T) {
	t.Parallel()
	const rows, every = 1_000_000, 10_000
	s := startService(t)
	s.exec(t, `CREATE TABLE big (id bigint, day date, note text)`)
	binc := make(chan string, 1)
	go func() { binc <- buildLoadctl(t) }()
	buf := append(make([]byte, 0, 40*rows), "id,day,note\n"...)
	for i := range rows {
		day := "2024-11-01"
		if i%every == every/2 {
			day = "2024-13-01"
		}
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, ","+day+",\"note\nsecond line\"\n"...)
	}
	path := writeFile(t, "big.csv", string(buf))
	bin := <-binc
	if bin == "" {
		t.FailNow()
	}
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	run := runBounded(t, bin, s, 150<<20, path, "--table", "big", "--quiet", "--max-rejected", "100", "--rejects", rejects)
	t.Logf("%d rows, 100 bad: %v, loadctl CPU %v, peak RSS %d MiB", rows, run.took, run.cpu, run.peak>>20)
	if run.code != 0 || !strings.Contains(run.stdout, "rejected            100\n") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", run.code, run.stdout, run.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(run.stderr, "\n"), "\n")
	if len(lines) != 101 || lines[0] != "loadctl: 100 bad rows left out (--max-rejected 100):" {
		t.Fatalf("stderr has %d lines:\n%s", len(lines), run.stderr)
	}
	for k, line := range lines[1:] {
		row := int64(k*every + every/2)
		if want := "line " + itoa(2+2*row) + `, column "day", value "2024-13-01": `; !strings.HasPrefix(line, want) {
			t.Errorf("bad row %d: %q, want it to start %q", k, line, want)
		}
	}
	b, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csvAll(t, string(b), nil)
	if err != nil || len(recs) != 100 || recs[99]["id"] != itoa(99*every+every/2) || recs[99]["note"] != "note\nsecond line" {
		t.Errorf("rejects file: %d records, last %v (%v)", len(recs), recs[len(recs)-1], err)
	}
	if got := s.query(t, `SELECT count(*)::text FROM big`); got[0] != itoa(rows-100) {
		t.Errorf("%s rows loaded, want %d", got[0], rows-100)
	}
}
