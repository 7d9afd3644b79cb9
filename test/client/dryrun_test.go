package client_test

import (
	"github.com/loadsvc/loadsvc/client"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// dryRunTable is the table the dry-run tests reload: November's rows are
// replaced by the load, December's stay.
const dryRunTable = `CREATE TABLE nav (day date NOT NULL, code text NOT NULL, nav numeric, UNIQUE (day, code));
	INSERT INTO nav VALUES ('2024-11-01', 'P1', 1), ('2024-11-01', 'P2', 2), ('2024-12-01', 'P1', 3)`

var dryRunWant = []string{"2024-11-01 P1 1", "2024-11-01 P2 2", "2024-12-01 P1 3"}

func dryRunRows() []client.Row {
	return []client.Row{
		{"day": "2024-11-01", "code": "P1", "nav": 1.5},
		{"day": "2024-11-01", "code": "P3", "nav": 3.5},
		{"day": "2024-11-02", "code": "P1", "nav": 4.5},
	}
}

func (e *env) navRows(t *testing.T) []string {
	t.Helper()
	return e.texts(t, `SELECT concat_ws(' ', day, code, nav) FROM nav ORDER BY day, code`)
}

// TestLoadDryRun checks that a dry run reports the real counts of the load
// and leaves the table as it was, and that its errors are the real load's.
func TestLoadDryRun(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, dryRunTable)
	c := e.dial(t, client.Options{})
	ctx := ctxTimeout(t, 30*time.Second)
	cfg := &loadsvcv1.LoadConfig{Table: "nav", Pk: []string{"day"}, DryRun: true}
	resp, err := c.Load(ctx, cfg, dryRunRows())
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetDryRun() || resp.GetDeleted() != 2 || resp.GetInserted() != 3 || len(resp.GetStatements()) == 0 {
		t.Errorf("dry run: dry_run %v, deleted %d, inserted %d, %d statements; want true, 2, 3, some",
			resp.GetDryRun(), resp.GetDeleted(), resp.GetInserted(), len(resp.GetStatements()))
	}
	if got := e.navRows(t); !reflect.DeepEqual(got, dryRunWant) {
		t.Errorf("after the dry run the table holds %q, want it unchanged %q", got, dryRunWant)
	}

	// A bad date fails the dry run as it fails the load.
	_, err = c.Load(ctx, cfg, []client.Row{{"day": "2024-13-01", "code": "P1"}})
	if e := wantError(t, err, codes.InvalidArgument); e.SQLState[:2] != "22" {
		t.Errorf("bad date: sqlstate %q, want a data exception 22xxx", e.SQLState)
	}
	// So does a unique violation: append where the key exists.
	_, err = c.Load(ctx, &loadsvcv1.LoadConfig{Table: "nav", Mode: loadsvcv1.Mode_MODE_APPEND, DryRun: true},
		[]client.Row{{"day": "2024-12-01", "code": "P1"}})
	wantError(t, err, codes.AlreadyExists)

	_, err = c.Load(ctx, &loadsvcv1.LoadConfig{Table: "nav", Pk: []string{"day"}, DryRun: true, PlanOnly: true}, dryRunRows())
	wantError(t, err, codes.InvalidArgument)

	// The same config without DryRun writes.
	cfg.DryRun = false
	if resp, err = c.Load(ctx, cfg, dryRunRows()); err != nil || resp.GetDryRun() || resp.GetDeleted() != 2 {
		t.Fatalf("real load: %v, %v", resp, err)
	}
	want := []string{"2024-11-01 P1 1.5", "2024-11-01 P3 3.5", "2024-11-02 P1 4.5", "2024-12-01 P1 3"}
	if got := e.navRows(t); !reflect.DeepEqual(got, want) {
		t.Errorf("after the real load the table holds %q, want %q", got, want)
	}
}

// TestWriterDryRun streams a dry run over several messages.
func TestWriterDryRun(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, dryRunTable)
	w, err := e.dial(t, client.Options{}).NewWriter(ctxTimeout(t, 30*time.Second),
		&loadsvcv1.LoadConfig{Table: "nav", Pk: []string{"day"}, DryRun: true}, client.WriterOptions{BatchRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, r := range dryRunRows() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetDryRun() || resp.GetDeleted() != 2 || resp.GetInserted() != 3 || resp.GetBatches() == 0 {
		t.Errorf("dry run: dry_run %v, deleted %d, inserted %d, batches %d; want true, 2, 3, some",
			resp.GetDryRun(), resp.GetDeleted(), resp.GetInserted(), resp.GetBatches())
	}
	if got := e.navRows(t); !reflect.DeepEqual(got, dryRunWant) {
		t.Errorf("after the dry run the table holds %q, want it unchanged %q", got, dryRunWant)
	}
}
