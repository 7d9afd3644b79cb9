package loader

import (
	"sort"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
)

// Field is one value of a row as PostgreSQL input text; Null marks SQL NULL.
type Field struct {
	Text string
	Null bool
}

// Batch is rows in column form: Columns in their final order and Values
// row-major, len(Columns) fields a row. Offset is the index of the batch's
// first row in the whole load, for naming rows in errors.
type Batch struct {
	Columns []string
	Values  []Field
	Offset  int
}

// Len is the number of rows.
func (b *Batch) Len() int {
	if b == nil || len(b.Columns) == 0 {
		return 0
	}
	return len(b.Values) / len(b.Columns)
}

// Row returns row i's fields, in column order.
func (b *Batch) Row(i int) []Field {
	n := len(b.Columns)
	return b.Values[i*n : (i+1)*n : (i+1)*n]
}

// ColumnIndex returns the position of name in Columns, or -1.
func (b *Batch) ColumnIndex(name string) int {
	for i, c := range b.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// StructColumns returns the sorted union of the keys of rows, each checked as
// an identifier.
func StructColumns(rows []*structpb.Struct) ([]string, error) {
	seen := make(map[string]struct{})
	var cols []string
	for i, r := range rows {
		for k := range r.GetFields() {
			if _, ok := seen[k]; ok {
				continue
			}
			if err := CheckIdent(k); err != nil {
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
func FromStructs(columns []string, rows []*structpb.Struct, offset int) (*Batch, error) {
	index := make(map[string]int, len(columns))
	for i, c := range columns {
		index[c] = i
	}
	b := &Batch{Columns: columns, Values: make([]Field, len(rows)*len(columns)), Offset: offset}
	for i := range b.Values {
		b.Values[i].Null = true
	}
	for i, r := range rows {
		row := b.Row(i)
		for k, v := range r.GetFields() {
			j, ok := index[k]
			if !ok {
				return nil, invalid(rowField(offset+i, k), offset+i,
					"row %d: column %s is not among the columns of the load (%s); the first message of a stream fixes them", offset+i, QuoteIdent(k), strings.Join(columns, ", "))
			}
			f, err := EncodeValue(v)
			if err != nil {
				return nil, invalid(rowField(offset+i, k), offset+i, "row %d, column %s: %v", offset+i, QuoteIdent(k), err)
			}
			row[j] = f
		}
	}
	return b, nil
}

func rowField(row int, column string) string {
	return "rows[" + itoa(row) + "]." + column
}
