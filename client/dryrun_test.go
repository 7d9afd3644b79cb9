package client

import (
	"testing"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// TestCheckDryRun: a response that is not a dry run, to a request for one,
// is an error that says the load was committed.
func TestCheckDryRun(t *testing.T) {
	t.Parallel()
	dry := &loadsvcv1.LoadConfig{DryRun: true}
	if err := checkDryRun(dry, &loadsvcv1.LoadResponse{DryRun: true}); err != nil {
		t.Errorf("a dry run's response: %v", err)
	}
	if err := checkDryRun(&loadsvcv1.LoadConfig{}, &loadsvcv1.LoadResponse{}); err != nil {
		t.Errorf("a load's response: %v", err)
	}
	err := checkDryRun(dry, &loadsvcv1.LoadResponse{Deleted: 2, Inserted: 3})
	want := "loadsvc: FailedPrecondition: the service does not support dry runs: it ignored dry_run and COMMITTED the load (2 rows deleted, 3 inserted, 0 updated)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
