package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeNumbersCSV writes a CSV of rows (id, v, n) with ids 0 to rows-1;
// the row with id bad, if any, has an n that is no number.
func writeNumbersCSV(t *testing.T, rows, bad int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,v,n\n")
	for i := range rows {
		n := fmt.Sprint(i % 97)
		if i == bad {
			n = "not-a-number"
		}
		fmt.Fprintf(&b, "%d,v%d,%s\n", i, i, n)
	}
	p := filepath.Join(t.TempDir(), "numbers.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadParallelFourWriters loads a CSV of 23,000 rows with --parallel 4
// and delete_insert: its five batches are dealt to the four writers in
// turn (part-1 takes the first and the fifth), and one commit deletes the
// keys' old rows and inserts every row once.
func TestLoadParallelFourWriters(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, v text NOT NULL, n numeric NOT NULL)")
	s.exec(t, "INSERT INTO t VALUES (5, 'old', 0), (999999, 'keep', 0)")
	f := writeNumbersCSV(t, 23_000, -1)
	r := mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--pk", "id", "--parallel", "4", "--quiet", f)
	for _, line := range []string{"rows                23000\n", "deleted             1\n", "inserted            23000\n"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("stdout lacks %q:\n%s", line, r.stdout)
		}
	}
	got := s.query(t, "SELECT concat_ws(' ', count(*), count(DISTINCT id), sum(id), sum(n), count(*) FILTER (WHERE v = 'v' || id)) FROM t")
	if want := "23001 23001 265488499 1103527 23000"; got[0] != want {
		t.Errorf("the table holds (rows, ids, sum(id), sum(n), rows as loaded) %s, want %s", got[0], want)
	}
	writers := s.query(t, "SELECT string_agg(writer || '=' || next_offset, ',' ORDER BY writer) FROM loadsvc.load_session_writers")
	if want := "part-1=8000,part-2=5000,part-3=5000,part-4=5000"; writers[0] != want {
		t.Errorf("the session's writers stored %s, want %s", writers[0], want)
	}
}

// TestLoadParallelFailureAborts loads a CSV whose row 17,000 (in the
// fourth batch, part-4's) has a bad number: the load fails with the
// service's reason, at the value's line in the file, the session is aborted, and neither the table, the
// sessions nor the stages keep anything of it.
func TestLoadParallelFailureAborts(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, "CREATE TABLE t (id bigint PRIMARY KEY, v text NOT NULL, n numeric NOT NULL)")
	s.exec(t, "INSERT INTO t VALUES (999999, 'keep', 0)")
	f := writeNumbersCSV(t, 23_000, 17_000)
	r := run(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--parallel", "4", "--quiet", f)
	if r.code != 1 || !strings.Contains(r.stderr, `line 17002, column "n", value "not-a-number"`) {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 naming the bad value at its line (part-4's offset 2000)", r.code, r.stderr)
	}
	for sql, want := range map[string]string{
		"SELECT concat_ws(' ', count(*), max(v)) FROM t":                    "1 keep",
		"SELECT count(*) FROM loadsvc.load_sessions":                        "0",
		"SELECT count(*) FROM pg_tables WHERE schemaname = 'loadsvc_stage'": "0",
	} {
		if got := s.query(t, sql); got[0] != want {
			t.Errorf("%s: %s, want %s", sql, got[0], want)
		}
	}
}

// TestLoadParallelRejectedPlaced: a --parallel load under --max-rejected
// whose row 17,000 breaks a CHECK, which the commit finds: the commit
// leaves the row out and lists it by its place in the session (writer by
// writer in name order: row 20,000, part-4's offset 2000), which loadctl
// maps back to the file's row and names by its line.
func TestLoadParallelRejectedPlaced(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, "CREATE TABLE t (id bigint PRIMARY KEY CHECK (id <> 17000), v text NOT NULL, n numeric NOT NULL)")
	f := writeNumbersCSV(t, 23_000, -1)
	r := mustRun(t, nil, "load", "--addr", s.addr, "--table", "t", "--mode", "append", "--parallel", "4", "--max-rejected", "5", "--quiet", f)
	if want := "\nline 17002: new row for relation \"t\" violates check constraint \"t_id_check\" (writer \"part-4\", offset 2000)"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if got := s.query(t, "SELECT concat_ws(' ', count(*), count(*) FILTER (WHERE id = 17000)) FROM t"); got[0] != "22999 0" {
		t.Errorf("the table holds (rows, rows of id 17000) %s, want 22999 0", got[0])
	}
}

func TestLoadParallelUsage(t *testing.T) {
	t.Parallel()
	f := writeFile(t, "t.csv", "id\n1\n")
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--parallel", "65"}, "loadctl load: --parallel must be from 1 to 64 writers (0: one stream), got 65\n"},
		{[]string{"--parallel", "-1"}, "loadctl load: --parallel must be from 1 to 64 writers"},
		{[]string{"--parallel", "2", "--plan"}, "loadctl load: --parallel and --plan do not go together"},
		{[]string{"--parallel", "2", "--dry-run"}, "loadctl load: --parallel and --dry-run do not go together"},
	} {
		args := append([]string{"load", "--table", "t", f}, tc.args...)
		r := run(t, nil, args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, tc.stderr) {
			t.Errorf("loadctl %q: exit %d, stderr:\n%s\nwant exit 2, stderr starting:\n%s", args, r.code, r.stderr, tc.stderr)
		}
	}
}

// TestParallelInBoundedMemory loads a 500,000-row CSV file (about 30 MiB)
// with the built loadctl binary and --parallel 4, and checks the process's
// peak resident memory: the file is read as a stream and each writer holds
// at most two batches, whatever the file's size.
func TestParallelInBoundedMemory(t *testing.T) {
	t.Parallel()
	const rows = 500_000
	const limit = 100 << 20
	s := startService(t)
	s.exec(t, `CREATE TABLE big (id bigint PRIMARY KEY, code text, amount numeric, day date, note text)`)
	run := loadBounded(t, s, limit, func() string { return writeBigCSV(t, rows) }, "--table", "big", "--parallel", "4", "--quiet")
	t.Logf("loaded %d rows (%d MiB of CSV) with 4 writers in %v, loadctl CPU %v; peak RSS %d MiB", rows, run.size>>20, run.took, run.cpu, run.peak>>20)
	if !strings.Contains(run.stdout, fmt.Sprintf("inserted            %d\n", rows)) {
		t.Errorf("stdout:\n%s", run.stdout)
	}
	got := s.query(t, `SELECT count(*) || ' ' || sum(id) || ' ' || count(note) FROM big`)
	if want := fmt.Sprintf("%d %d %d", rows, int64(rows)*(rows+1)/2, rows-rows/10); got[0] != want {
		t.Errorf("table: got %s, want %s", got[0], want)
	}
}
