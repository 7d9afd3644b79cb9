package server_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// A dry run is the real load rolled back: the pipeline's refresh reports the
// rows it would delete and insert, shows the statements it ran, writes
// nothing and leaves the pool clean, over Load and over LoadStream.
func TestDryRunReportsRealCounts(t *testing.T) {
	t.Parallel()
	onBothRPCs(t, func(t *testing.T, b *bundle, stream bool) {
		b.exec1(t, scaleTable)
		months := []string{"2024-11-01", "2024-12-01"}
		loadVia(t, b, false, refreshConfig(), scaleRows(months, businessTypes, 40, 0))
		before := scaleContent(t, b.admin)

		cfg := refreshConfig()
		cfg.DryRun = true
		resp := loadVia(t, b, stream, cfg, scaleRows(months[:1], businessTypes[:1], 25, 1))
		if !resp.DryRun || resp.Deleted != 80 || resp.Inserted != 50 || resp.Rows != 50 || len(resp.Statements) == 0 {
			t.Errorf("dry run: dry_run %v, deleted %d, inserted %d, rows %d, %d statements; want true, 80, 50, 50, some",
				resp.DryRun, resp.Deleted, resp.Inserted, resp.Rows, len(resp.Statements))
		}
		if !slices.Equal(scaleContent(t, b.admin), before) {
			t.Error("a dry run changed the table")
		}
		b.clean(t)
	})
}

// A dry run fails exactly as the load would: a bad date is INVALID_ARGUMENT
// with its SQLSTATE, a unique violation ALREADY_EXISTS, and a deferred
// constraint, which only COMMIT would check, is checked too.
func TestDryRunErrorsAreTheLoads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, d date, p int REFERENCES p DEFERRABLE INITIALLY DEFERRED);
INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, '2024-01-01', 1)`)
	load := func(mode loadsvcv1.Mode, row map[string]any) error {
		_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "c", Mode: mode, Pk: []string{"id"}, DryRun: true},
			Rows:   rows(t, row)})
		return err
	}
	st := wantCode(t, load(loadsvcv1.Mode_MODE_APPEND, map[string]any{"id": 2, "d": "2024-13-45"}), codes.InvalidArgument, "load failed: date/time field value out of range")
	if ei := errorInfo(t, st); ei.GetMetadata()["sqlstate"] != "22008" {
		t.Errorf("bad date: metadata %v", ei.GetMetadata())
	}
	wantCode(t, load(loadsvcv1.Mode_MODE_APPEND, map[string]any{"id": 1}), codes.AlreadyExists, "load failed: duplicate key value")
	st = wantCode(t, load(loadsvcv1.Mode_MODE_DELETE_INSERT, map[string]any{"id": 3, "p": 99}), codes.FailedPrecondition, "load failed: insert or update on table")
	if ei := errorInfo(t, st); ei.GetMetadata()["sqlstate"] != "23503" {
		t.Errorf("deferred foreign key: metadata %v", ei.GetMetadata())
	}
	if n := b.count(t, `SELECT count(*) FROM c`); n != 1 {
		t.Errorf("table c has %d rows after failed dry runs, want 1", n)
	}
	b.clean(t)
}

// A dry run with a request_id neither records it nor replays it: the real
// load with the same id runs afterwards, and a later dry run does not
// replay that either.
func TestDryRunSkipsTheLedger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	req := func(dry bool) *loadsvcv1.LoadRequest {
		return &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, RequestId: "job-7", DryRun: dry},
			Rows:   seqRows(t, 0, 3)}
	}
	resp, err := b.client.Load(context.Background(), req(true))
	if err != nil || resp.Replayed || resp.Inserted != 3 {
		t.Fatalf("dry run: %v %v", resp, err)
	}
	if n := b.count(t, `SELECT count(*) FROM loadsvc.load_ledger`); n != 0 {
		t.Errorf("a dry run recorded %d ledger entries, want 0", n)
	}
	resp, err = b.client.Load(context.Background(), req(false))
	if err != nil || resp.Replayed || resp.Inserted != 3 {
		t.Fatalf("the real load after a dry run: %v %v", resp, err)
	}
	resp, err = b.client.Load(context.Background(), req(true))
	if err == nil || resp != nil {
		// The rows exist now: the dry run runs them for real and hits the key.
		t.Fatalf("a dry run after the real load replayed it: %v", resp)
	}
	wantCode(t, err, codes.AlreadyExists, "load failed: duplicate key value")
	if n := b.count(t, `SELECT count(*) FROM t`); n != 3 {
		t.Errorf("table has %d rows, want 3", n)
	}
	b.clean(t)
}

// dry_run with plan_only is refused before any connection.
func TestDryRunWithPlanOnlyRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, withNoDB())
	_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true, DryRun: true},
		Rows:   seqRows(t, 0, 1)})
	st := wantCode(t, err, codes.InvalidArgument, "dry_run and plan_only cannot be set together")
	if f := badRequestField(t, st); f != "config.dry_run" {
		t.Errorf("field %q", f)
	}
	_, err = send(context.Background(), t, b.client, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true, DryRun: true}, typedIDs(0, 1))
	wantCode(t, err, codes.InvalidArgument, "dry_run and plan_only cannot be set together")
}
