package readme_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sessionMarker tells the load sessions' walk-through from the other
// grpcurl blocks: it is one script, whose commands share the session id.
const sessionMarker = "LoadService/BeginLoad"

// TestREADMELoadSessions runs the README's load session walk-through as one
// script on a fresh demo_nav and checks what it states: the resent batch
// stores nothing, the writers' next offsets, nothing in the table before the
// commit, the commit's counts, and the same answer when it is retried.
func TestREADMELoadSessions(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script := onlyBlock(t, fencedBlocks(string(readme)), "sh", sessionMarker)
	s := startServer(t)
	script = strings.ReplaceAll(script, readmeAddr, s.addr)
	commitCmd := `bin/grpcurl -plaintext -d '{"sessionId": "'$SID'"}' ` + s.addr + " loadsvc.v1.LoadService/CommitLoad"
	before, _, ok := strings.Cut(script, "\n"+commitCmd)
	if !ok {
		t.Fatal("README: the walk-through does not end with its CommitLoad")
	}
	// Up to the commit: then again with the commit, twice.
	r := sh(t, root, "set -eo pipefail\n"+before+"\necho SID=$SID")
	if r.code != 0 {
		t.Fatalf("the walk-through up to its commit: %s", r)
	}
	out := normalize(r.stdout)
	for _, want := range []string{
		`{ "writer": "part-1", "nextOffset": "2", "rows": "2" }`,
		`{ "writer": "part-2", "nextOffset": "1", "rows": "1" }`,
		`{ "writer": "part-1", "nextOffset": "2" }`, // the resent batch
		`"rows": "3", "committed": { "part-1": "2", "part-2": "1" }`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the walk-through's output lacks %s:\n%s", want, r.stdout)
		}
	}
	if rows := tableRows(t, s.url); len(rows) != 0 {
		t.Fatalf("before the commit demo_nav holds %q", rows)
	}
	sid := strings.TrimSpace(r.stdout[strings.LastIndex(r.stdout, "SID=")+4:])
	var answers []string
	for range 2 {
		r := sh(t, root, commitCmd, "SID="+sid)
		if r.code != 0 {
			t.Fatalf("CommitLoad: %s", r)
		}
		m := response(t, "CommitLoad", r)
		wantFields(t, "CommitLoad", m, "inserted", "3", "rows", "3")
		if m["batches"] != 2.0 {
			t.Errorf("CommitLoad: batches is %#v, the README says 2", m["batches"])
		}
		answers = append(answers, normalize(r.stdout))
	}
	if answers[0] != answers[1] {
		t.Errorf("a retried CommitLoad answered\n%s\nnot as the first\n%s", answers[1], answers[0])
	}
	equalRows(t, "after the commit", tableRows(t, s.url), []string{
		"2025-01-01|P001|C01|∅|1.0100|∅|∅",
		"2025-01-01|P002|C01|∅|2.0100|∅|∅",
		"2025-01-02|P001|C01|∅|1.0200|∅|∅",
	})
}
