package loader

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

func rowField(row int, column string) string {
	return "rows[" + itoa(row) + "]." + column
}
