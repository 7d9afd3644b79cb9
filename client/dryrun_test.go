package client

import (
	"strings"
	"testing"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// TestCheckDryRun: a response that is not a dry run, to a request for one,
// is an error that says the load was committed.
func TestCheckDryRun(t *testing.T) {
	t.Parallel()
	dry := &loadsvcv1.LoadConfig{DryRun: true}
	if err := checkResponse(dry, &loadsvcv1.LoadResponse{DryRun: true}); err != nil {
		t.Errorf("a dry run's response: %v", err)
	}
	if err := checkResponse(&loadsvcv1.LoadConfig{}, &loadsvcv1.LoadResponse{}); err != nil {
		t.Errorf("a load's response: %v", err)
	}
	err := checkResponse(dry, &loadsvcv1.LoadResponse{Deleted: 2, Inserted: 3})
	want := "loadsvc: FailedPrecondition: the service does not support dry runs: it ignored dry_run and COMMITTED the load (2 rows deleted, 3 inserted, 0 updated)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestCheckResponseGuards: a response beyond max_deleted_rows, or without a
// load_id for a stamp_column, shows the service ignored the setting.
func TestCheckResponseGuards(t *testing.T) {
	t.Parallel()
	guard := &loadsvcv1.LoadConfig{MaxDeletedRows: 5}
	if err := checkResponse(guard, &loadsvcv1.LoadResponse{Deleted: 5, LoadId: "x"}); err != nil {
		t.Errorf("5 rows deleted under a limit of 5: %v", err)
	}
	err := checkResponse(guard, &loadsvcv1.LoadResponse{Deleted: 6, Inserted: 1})
	want := "loadsvc: FailedPrecondition: the service does not support max_deleted_rows: it ignored the limit of 5 and COMMITTED the load (6 rows deleted, 1 inserted, 0 updated)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	stamp := &loadsvcv1.LoadConfig{StampColumn: "load_id"}
	if err := checkResponse(stamp, &loadsvcv1.LoadResponse{LoadId: "0193"}); err != nil {
		t.Errorf("a stamped load with its load_id: %v", err)
	}
	if err := checkResponse(stamp, &loadsvcv1.LoadResponse{}); err == nil || !strings.Contains(err.Error(), `ignored stamp_column "load_id"`) {
		t.Errorf("a stamped load without a load_id: %v", err)
	}
}
