package loader_test

import (
	"context"
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

// endless is a stream that never ends: batches of size rows, every one
// lacking its key value, counting the batches it handed out.
type endless struct {
	size, read int
}

func (s *endless) Next(context.Context) (*loader.Batch, error) {
	b := &loader.Batch{Columns: []string{"k"}, Values: make([]loader.Field, s.size), Offset: s.read * s.size}
	for i := range b.Values {
		b.Values[i].Null = true
	}
	s.read++
	return b, nil
}

// A refusal of rows without a key value reads the rest of a stream for
// more of them, but no further than the load's row limit: a client that
// keeps sending does not keep the load reading.
func TestMissingKeysReadUpToTheRowLimit(t *testing.T) {
	t.Parallel()
	cfg := loader.Config{Table: "t", Mode: loader.ModeDeleteInsert, Keys: []string{"k"}, MaxRows: 1000, MaxRowErrors: 1_000_000}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	src := &endless{size: 10}
	more, err := loader.NewIntake(&cfg, src).Start(context.Background())
	var ve *loader.ValidationError
	if more || !errors.As(err, &ve) || ve.Rows == nil {
		t.Fatalf("Start: %v, %v; want a refusal listing rows", more, err)
	}
	if src.read != 101 || len(ve.Rows.Errors) != 1000 {
		t.Errorf("read %d batches of 10 rows and refused %d rows; want 101 batches (the limit of 1000 rows, and the one past it) and 1000 rows", src.read, len(ve.Rows.Errors))
	}
}
