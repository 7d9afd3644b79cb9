package pgbouncer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// A plan touches no connection; its script, run by psql through PgBouncer,
// performs the load (TEMP stage and COPY inside its own transaction).
func TestPlanOnly(t *testing.T) {
	t.Parallel()
	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v)
		e.exec(t, strings.NewReplacer("%[1]s", "t", "%[2]s", "PRIMARY KEY").Replace(modeTable))
		before := e.pool.Stat()
		resp, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true},
			Rows: rows(t,
				map[string]any{"id": 1, "a": "A1", "b": 11},
				map[string]any{"id": 4, "a": "A4", "b": nil}),
		})
		if err != nil {
			t.Fatal(err)
		}
		after := e.pool.Stat()
		if after.AcquireCount() != before.AcquireCount() || after.TotalConns() != before.TotalConns() {
			t.Errorf("a plan acquired or opened a connection")
		}
		if !resp.PlanOnly || resp.Deleted != 2 || len(resp.Statements) == 0 || !strings.Contains(resp.SqlScript, "BEGIN;") {
			t.Fatalf("plan %v", resp)
		}
		runScript(t, bouncerURL(t, e.dbURL), resp.SqlScript)
		if got := e.content(t, "t"); got != "1,A1,11 2,-,20 3,z,30 4,A4,-" {
			t.Errorf("the plan's script left %q", got)
		}
		e.clean(t)
	})
}

// runScript runs a plan's sql_script with psql against url.
func runScript(t *testing.T, url, script string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "plan.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(cluster.BinDir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("psql -f plan.sql: %v\n%s\nscript:\n%s", err, out, script)
	}
}
