package testrows

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// The helpers below are the shorthand of the tests that plan and load rows:
// rows written as maps, failing the test on any error.

// Structs turns rows into protobuf Structs as the server receives them.
func Structs(tb testing.TB, rows []map[string]any) []*structpb.Struct {
	tb.Helper()
	out := make([]*structpb.Struct, len(rows))
	for i, r := range rows {
		s, err := structpb.NewStruct(r)
		if err != nil {
			tb.Fatalf("row %d: %v", i, err)
		}
		out[i] = s
	}
	return out
}

// Batch encodes rows the way the server does: the sorted union of their
// keys as columns, each value as PostgreSQL input text.
func Batch(tb testing.TB, rows []map[string]any) *loader.Batch {
	tb.Helper()
	ss := Structs(tb, rows)
	cols, err := Columns(ss)
	if err != nil {
		tb.Fatalf("StructColumns: %v", err)
	}
	b, err := FromStructs(cols, ss, 0)
	if err != nil {
		tb.Fatalf("FromStructs: %v", err)
	}
	return b
}

// Plan is NewPlan of rows.
func Plan(tb testing.TB, cfg loader.Config, rows []map[string]any) *loader.Plan {
	tb.Helper()
	p, err := loader.NewPlan(cfg, Batch(tb, rows))
	if err != nil {
		tb.Fatalf("NewPlan: %v", err)
	}
	return p
}

// StructValue is structpb.NewValue of v.
func StructValue(tb testing.TB, v any) *structpb.Value {
	tb.Helper()
	pv, err := structpb.NewValue(v)
	if err != nil {
		tb.Fatal(err)
	}
	return pv
}

// Refused asserts that err is a *loader.ValidationError for field and row
// whose message holds every string of msg.
func Refused(tb testing.TB, err error, field string, row int, msg ...string) {
	tb.Helper()
	var ve *loader.ValidationError
	if !errors.As(err, &ve) {
		tb.Fatalf("error %v (%T), want *loader.ValidationError for %s", err, err, field)
	}
	if ve.Field != field || ve.Row != row {
		tb.Errorf("ValidationError Field=%q Row=%d (%s), want Field=%q Row=%d", ve.Field, ve.Row, ve.Reason, field, row)
	}
	for _, m := range msg {
		if !strings.Contains(ve.Error(), m) {
			tb.Errorf("ValidationError %q does not mention %q", ve.Error(), m)
		}
	}
}
