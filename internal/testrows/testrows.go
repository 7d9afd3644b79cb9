// Package testrows builds loader batches from google.protobuf.Struct rows
// the way loadsvc's JSON rows have always been read: the reference that the
// server's wire decoder is fuzzed against, and the way the tests of loader
// and pgexec write rows (testing.go). Only tests import it.
package testrows

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/pgtext"
)

// Columns returns the sorted union of the keys of rows, each checked as
// an identifier.
func Columns(rows []*structpb.Struct) ([]string, error) {
	seen := make(map[string]struct{})
	var cols []string
	for i, r := range rows {
		for k := range r.GetFields() {
			if _, ok := seen[k]; ok {
				continue
			}
			if err := loader.CheckIdent(k); err != nil {
				return nil, invalid(rowField(i, k), i, "row %d: column name %v", i, err)
			}
			seen[k] = struct{}{}
			cols = append(cols, k)
		}
	}
	sort.Strings(cols)
	return cols, nil
}

// FromStructs encodes JSON rows into a batch with the given columns (usually
// StructColumns of the same rows). A key missing from a row is NULL; a key
// outside columns is refused. offset is the index of rows[0] in the load.
func FromStructs(columns []string, rows []*structpb.Struct, offset int) (*loader.Batch, error) {
	index := make(map[string]int, len(columns))
	for i, c := range columns {
		index[c] = i
	}
	b := &loader.Batch{Columns: columns, Values: make([]loader.Field, len(rows)*len(columns)), Offset: offset}
	for i := range b.Values {
		b.Values[i].Null = true
	}
	for i, r := range rows {
		row := b.Row(i)
		for k, v := range r.GetFields() {
			j, ok := index[k]
			if !ok {
				return nil, invalid(rowField(offset+i, k), offset+i,
					"row %d: column %s is not among the columns of the load (%s); the first message of a stream fixes them", offset+i, loader.QuoteIdent(k), strings.Join(columns, ", "))
			}
			f, err := Value(v)
			if err != nil {
				return nil, invalid(rowField(offset+i, k), offset+i, "row %d, column %s: %v", offset+i, loader.QuoteIdent(k), err)
			}
			row[j] = f
		}
	}
	return b, nil
}

// Value turns one JSON value into PostgreSQL input text: null is NULL,
// a number is plain decimal (no exponent), a string is itself, a bool is
// true/false, an object or list is its JSON text. Text holding a NUL byte is
// refused: PostgreSQL text cannot store it and truncating would lose data.
func Value(v *structpb.Value) (loader.Field, error) {
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return loader.Field{Null: true}, nil
	case *structpb.Value_NumberValue:
		return loader.Field{Text: pgtext.Float(k.NumberValue)}, nil
	case *structpb.Value_StringValue:
		return loader.Text(k.StringValue)
	case *structpb.Value_BoolValue:
		return loader.Field{Text: strconv.FormatBool(k.BoolValue)}, nil
	case *structpb.Value_StructValue, *structpb.Value_ListValue:
		s, err := pgtext.JSON(v.AsInterface())
		if err != nil {
			return loader.Field{}, err
		}
		return loader.Text(s)
	default:
		return loader.Field{}, fmt.Errorf("unsupported value kind %T", k)
	}
}

func invalid(field string, row int, format string, args ...any) *loader.ValidationError {
	return &loader.ValidationError{Field: field, Row: row, Reason: fmt.Sprintf(format, args...)}
}

func rowField(row int, column string) string {
	return "rows[" + strconv.Itoa(row) + "]." + column
}
