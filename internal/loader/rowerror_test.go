package loader_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// Rows without a key value are refused together, up to the cap, which the
// refusal names when it cuts the list.
func TestMissingKeysCapped(t *testing.T) {
	t.Parallel()
	rows := []row{{"k": 1}, {"k": nil}, {"v": 1}, {"k": nil}, {"k": 2}}
	for _, tt := range []struct {
		cap       int
		want      int
		truncated bool
		reason    string
	}{
		{0, 3, false, "; 3 rows lack a key value, all listed"},
		{2, 2, true, "; more than 2 rows lack a key value, the first listed in the RowErrors detail (THE_CAP)"},
	} {
		cfg := loader.Config{Table: "t", Keys: []string{"k"}, MaxRowErrors: tt.cap, MaxRowErrorsHint: "THE_CAP"}
		_, err := loader.NewPlan(cfg, testrows.Batch(t, rows))
		var ve *loader.ValidationError
		if !errors.As(err, &ve) || ve.Rows == nil {
			t.Fatalf("cap %d: %v, want a refusal listing rows", tt.cap, err)
		}
		if len(ve.Rows.Errors) != tt.want || ve.Rows.Truncated != tt.truncated || ve.Rows.Errors[0].Row != 1 || !strings.Contains(ve.Reason, tt.reason) {
			t.Errorf("cap %d: %d rows (truncated %v), reason %q; want %d (%v), %q", tt.cap, len(ve.Rows.Errors), ve.Rows.Truncated, ve.Reason, tt.want, tt.truncated, tt.reason)
		}
	}
}
