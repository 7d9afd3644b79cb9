package loader

import (
	"fmt"
	"strconv"
)

// The limits on the shape of a load, whichever decoder read its rows. Each
// is checked once its count is known and before anything is allocated for
// what it counts.
const (
	// MaxColumns is PostgreSQL's own limit on a table's columns.
	MaxColumns = 1600
	// MaxCells bounds rows × columns of one message or one plan: a few
	// bytes of empty rows after one row with many columns would otherwise
	// decode to far more than the message's size.
	MaxCells = 8 << 20
	// MaxNesting bounds how deep an object or list value nests inside a
	// column: the top level counts as 1.
	MaxNesting = 64
	// MaxKeys is the most key columns a load may name: PostgreSQL's limit
	// on the columns of an index.
	MaxKeys = 32
)

// CheckColumns refuses a load whose rows bring more than MaxColumns
// distinct columns; row is where the column past the limit appears (-1 when
// not known), field the request field that carries them.
func CheckColumns(columns, row int, field string) error {
	if columns <= MaxColumns {
		return nil
	}
	where := ""
	if row >= 0 {
		where = fmt.Sprintf("row %d brings column number %d; ", row, columns)
	}
	return invalid(field, row, "%sa load may carry at most %d distinct columns (PostgreSQL's own limit)", where, MaxColumns)
}

// CheckCells refuses a message of rows rows × columns columns, whose first
// row is row first of the load, past MaxCells values a message, or the load
// up to its end past the config's MaxCells, before the values are decoded.
func (c *Config) CheckCells(first, rows, columns int, field string) error {
	limit, hint := MaxCells, "a message; send fewer rows a message (LoadStream)"
	if c.MaxCells > 0 && c.MaxCells < limit {
		limit, hint, rows = c.MaxCells, c.MaxCellsHint, first+rows
	}
	if columns == 0 || rows <= limit/columns {
		return nil
	}
	err := invalid(field, -1, "the rows carry %d rows × %d columns = %d values, more than %d %s", rows, columns, rows*columns, limit, hint)
	err.Limit = true
	return err
}

// BadValue is the refusal of one value of a load: the row's index in the
// load and the column's name, then why. Every decoder and the intake word
// a bad value this way.
func BadValue(row int, column string, format string, args ...any) *ValidationError {
	return invalid(rowField(row, Cap(column)), row, "row %d, column %s: %s", row, QuoteIdent(column), fmt.Sprintf(format, args...))
}

// EmptyRow is the refusal of a row that carries no column at all.
func EmptyRow(row int) *ValidationError {
	return invalid("rows["+strconv.Itoa(row)+"]", row, "row %d carries no column: every row needs at least one column value (null counts)", row)
}
