package main

import (
	"reflect"
	"strings"
	"testing"
)

// TestDryRun reloads November from a sheet with --dry-run: the real counts
// are printed with a line saying nothing was written, the table is as it
// was; a bad date fails it as it fails the load. Then the load itself.
func TestDryRun(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, xlsxTable)
	s.exec(t, `INSERT INTO "规模明细" ("月度", "计划代码") VALUES ('2024-12-01', 'old1'), ('2024-12-01', 'old2'), ('2024-10-31', 'keep')`)
	before := xlsxTableRows(t, s)
	book := writeWorkbook(t)
	args := []string{"load", "--addr", s.addr, "--table", "规模明细", "--sheet", "规模明细", "--pk", "月度", book}
	r := mustRun(t, nil, append(args, "--dry-run")...)
	for _, line := range []string{"deleted             2\n", "inserted            3\n",
		"dry run             yes: the load ran and was rolled back, nothing was written\n"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("stdout lacks %q:\n%s", line, r.stdout)
		}
	}
	if got := xlsxTableRows(t, s); !reflect.DeepEqual(got, before) {
		t.Errorf("after --dry-run the table holds\n%q\nwant it unchanged\n%q", got, before)
	}
	m := decodeResponse(t, mustRun(t, nil, append(args, "--dry-run", "--json")...).stdout)
	if m["dryRun"] != true || m["deleted"] != "2" || m["inserted"] != "3" {
		t.Errorf("--dry-run --json: %v", m)
	}

	bad := writeFile(t, "bad.csv", "月度,计划代码\n2024-12-01,P1\n2024-02-30,P2\n")
	r = run(t, nil, "load", "--addr", s.addr, "--table", "规模明细", "--pk", "月度", "--dry-run", "--quiet", bad)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "loadctl: InvalidArgument: load failed: date/time field value out of range: \"2024-02-30\"") {
		t.Errorf("bad date: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	r = mustRun(t, nil, args...)
	if strings.Contains(r.stdout, "dry run") || !strings.Contains(r.stdout, "deleted             2\n") {
		t.Errorf("the load itself:\n%s", r.stdout)
	}
	if got := s.query(t, `SELECT count(*)::text FROM "规模明细"`); got[0] != "4" {
		t.Errorf("after the load the table has %s rows, want 4", got[0])
	}
}
