package main

import (
	"flag"
	"reflect"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	f := writeFile(t, "t.csv", "id\n1\n")
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{nil, "loadctl loads CSV"},
		{[]string{"frobnicate"}, "loadctl: unknown command \"frobnicate\"\n"},
		{[]string{"load", f}, "loadctl load: --table is required\nRun 'loadctl help load' for usage.\n"},
		{[]string{"load", "--table", "t", "--mode", "merge", f}, "loadctl load: unknown --mode \"merge\": want append, delete_insert, upsert, insert_missing, fill_null_only or replace\n"},
		{[]string{"load", "--table", "t", "--mode", "MODE_APPEND", f}, "loadctl load: unknown --mode \"MODE_APPEND\""},
		{[]string{"load", "--table", "t", "--pk", "a,,b", f}, "loadctl load: --pk \"a,,b\" names an empty column\n"},
		{[]string{"load", "--table", "t", "--delimiter", "ab", f}, "loadctl load: --delimiter must be one ASCII character"},
		{[]string{"load", "--table", "t", "--format", "xml", f}, "loadctl load: unknown --format \"xml\": want csv, ndjson, json or xlsx\n"},
		{[]string{"load", "--table", "t", "data.txt"}, "loadctl load: cannot tell the format of data.txt from its extension (.csv, .ndjson, .jsonl, .json, .xlsx); use --format csv|ndjson|json|xlsx\n"},
		{[]string{"load", "--table", "t", "--duplicates", "keep_first", f}, "loadctl load: unknown --duplicates \"keep_first\": want refuse, keep_last or keep_all\n"},
		{[]string{"load", "--table", "t", "--plan", "--dry-run", f}, "loadctl load: --dry-run and --plan do not go together"},
		{[]string{"load", "--table", "t", "--sheet", "s1", f}, "loadctl load: --sheet is for .xlsx workbooks; "},
		{[]string{"load", "--table", "t", f, f}, "loadctl load: one FILE at most, got 2"},
		{[]string{"load", "--bogus"}, "loadctl load: flag provided but not defined: -bogus\n"},
		{[]string{"health", "extra"}, "loadctl health: no arguments expected"},
		{[]string{"load", "--table", "t", "--rejects", "r.csv", f}, "loadctl load: --rejects writes the rows a load leaves out under --max-rejected N"},
		{[]string{"load", "--table", "t", "--max-rejected", "5", "--rejects", "r.csv", "--plan", f}, "loadctl load: --rejects writes"},
		{[]string{"load", "--table", "t", "--max-deleted", "-1", f}, "loadctl load: --max-rejected and --max-deleted must be 0 or more"},
		{[]string{"load", "--table", "t", "--label", "novalue", f}, "loadctl load: invalid value \"novalue\" for flag -label: --label \"novalue\": want key=value\n"},
		{[]string{"load", "--table", "t", "--label", "a=1", "--label", "a=2", f}, "loadctl load: invalid value \"a=2\" for flag -label: --label \"a=2\": the key \"a\" is given twice\n"},
		{[]string{"history", "--status", "ok"}, "loadctl history: unknown --status \"ok\": want committed or failed\n"},
		{[]string{"history", "--limit", "0"}, "loadctl history: --limit must be 1 or more, got 0\n"},
		{[]string{"history", "--since", "last week"}, "loadctl history: --since \"last week\": want a duration back from now"},
		{[]string{"history", "extra"}, "loadctl history: no arguments expected"},
		{[]string{"help", "nope"}, "loadctl: unknown command \"nope\""},
	} {
		r := run(t, nil, tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, tc.stderr) || r.stdout != "" {
			t.Errorf("loadctl %q: exit %d, stdout %q, stderr:\n%s\nwant exit 2, stderr starting:\n%s", tc.args, r.code, r.stdout, r.stderr, tc.stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		if r := run(t, nil, args...); r.code != 0 || r.stdout != mainUsage {
			t.Errorf("%q: exit %d, stdout:\n%s", args, r.code, r.stdout)
		}
	}
	for _, args := range [][]string{{"help", "load"}, {"load", "-h"}, {"load", "--table", "t", "--help"}} {
		r := run(t, nil, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, loadUsage) || !strings.Contains(r.stdout, "\nFlags:\n  -addr string\n") ||
			!strings.Contains(r.stdout, "  -max-plan-rows int\n    \tmost rows --plan sends (in one request) (default 100000)\n") {
			t.Errorf("%q: exit %d, stdout:\n%s", args, r.code, r.stdout)
		}
	}
	if r := run(t, nil, "help", "history"); r.code != 0 || !strings.HasPrefix(r.stdout, historyUsage) || !strings.Contains(r.stdout, "-since when") {
		t.Errorf("help history: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	if r := run(t, nil, "help", "health"); r.code != 0 || !strings.HasPrefix(r.stdout, healthUsage) || !strings.Contains(r.stdout, "-timeout duration") {
		t.Errorf("help health: exit %d, stdout:\n%s", r.code, r.stdout)
	}
}

func TestParseArgsFlagsAnywhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  []string
		pos   []string
		table string
	}{
		{[]string{"--table", "t", "f.csv"}, []string{"f.csv"}, "t"},
		{[]string{"f.csv", "--table", "t"}, []string{"f.csv"}, "t"},
		{[]string{"-", "--table=t"}, []string{"-"}, "t"},
		{[]string{"--table", "t", "--", "--odd.csv"}, []string{"--odd.csv"}, "t"},
		{[]string{"--table", "t"}, nil, "t"},
	} {
		var o loadOptions
		pos, err := parseArgs(newLoadFlags(&o), tc.args)
		if err != nil || !reflect.DeepEqual(pos, tc.pos) || o.table != tc.table {
			t.Errorf("%q: got %q, table %q, %v", tc.args, pos, o.table, err)
		}
	}
	var o loadOptions
	if _, err := parseArgs(newLoadFlags(&o), []string{"-h"}); err != flag.ErrHelp {
		t.Errorf("-h: got %v", err)
	}
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"append", "delete_insert", "upsert", "insert_missing", "fill_null_only", "replace"} {
		m, err := parseMode(name)
		if err != nil || modeName(m) != name {
			t.Errorf("%s: got %v (%s), %v", name, m, modeName(m), err)
		}
	}
	for _, name := range []string{"", "unspecified", "Append", "mode_append"} {
		if _, err := parseMode(name); err == nil {
			t.Errorf("%q: no error", name)
		}
	}
}

func TestAddrAndTokenFromEnvironment(t *testing.T) {
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id int)`)
	t.Setenv("LOADSVC_ADDR", s.addr)
	t.Setenv("LOADSVC_TOKEN", "from-env")
	mustRun(t, strings.NewReader("id\n1\n"), "load", "--table", "t", "--mode", "append", "--quiet")
	mustRun(t, strings.NewReader("id\n2\n"), "load", "--table", "t", "--mode", "append", "--quiet", "--token", "from-flag")
	mustRun(t, nil, "health")
	want := []string{"Bearer from-env", "Bearer from-flag", "Bearer from-env", "Bearer from-env"}
	if got := s.auth.Seen(); !reflect.DeepEqual(got, want) {
		t.Errorf("authorization headers: got %q, want %q", got, want)
	}
	// The help text shows no secret from the environment.
	if r := run(t, nil, "help", "load"); strings.Contains(r.stdout, "from-env") || strings.Contains(r.stdout, s.addr) {
		t.Errorf("help shows the environment:\n%s", r.stdout)
	}
}
