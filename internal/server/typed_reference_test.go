package server

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/pgtext"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// refTypedColumn is one TypedColumn's values as an indexable view.
type refTypedColumn struct {
	name  string
	nulls []bool
	n     int
	at    func(i int) (loader.Field, error)
}

// The decoder of typed rows before decodeTyped, which unmarshals TypedRows
// with proto first: the reference FuzzTypedRows holds decodeTyped to.

// refTypedBatch decodes the compact typed form into a batch with its columns
// sorted by name, as JSON rows get them. offset is the index of its first
// row in the load.
func refTypedBatch(tr *loadsvcv1.TypedRows, offset int) (*loader.Batch, error) {
	cols := make([]refTypedColumn, 0, len(tr.GetColumns()))
	seen := make(map[string]bool, len(tr.GetColumns()))
	rows := -1
	for i, c := range tr.GetColumns() {
		field := fmt.Sprintf("typed_rows.columns[%d]", i)
		if err := loader.CheckIdent(c.GetName()); err != nil {
			return nil, &loader.ValidationError{Field: field + ".name", Row: -1, Reason: "typed column name " + err.Error()}
		}
		if seen[c.GetName()] {
			return nil, &loader.ValidationError{Field: field + ".name", Row: -1, Reason: "typed column " + loader.QuoteIdent(c.GetName()) + " appears twice"}
		}
		seen[c.GetName()] = true
		tc, err := refViewColumn(c)
		if err != nil {
			return nil, &loader.ValidationError{Field: field, Row: -1, Reason: fmt.Sprintf("typed column %s: %v", loader.QuoteIdent(c.GetName()), err)}
		}
		if rows >= 0 && tc.n != rows {
			return nil, &loader.ValidationError{Field: field, Row: -1, Reason: fmt.Sprintf("typed column %s has %d rows, the columns before it %d", loader.QuoteIdent(c.GetName()), tc.n, rows)}
		}
		rows = tc.n
		cols = append(cols, tc)
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].name < cols[j].name })
	return refFillTyped(cols, max(rows, 0), offset)
}

func refFillTyped(cols []refTypedColumn, rows, offset int) (*loader.Batch, error) {
	b := &loader.Batch{Columns: make([]string, len(cols)), Values: make([]loader.Field, rows*len(cols)), Offset: offset}
	for j, c := range cols {
		b.Columns[j] = c.name
	}
	w := len(cols)
	for j, c := range cols {
		for i := 0; i < rows; i++ {
			if c.nulls != nil && c.nulls[i] {
				b.Values[i*w+j] = loader.Field{Null: true}
				continue
			}
			f, err := c.at(i)
			if err != nil {
				n := offset + i
				return nil, &loader.ValidationError{Field: fmt.Sprintf("rows[%d].%s", n, c.name), Row: n, Reason: fmt.Sprintf("row %d, column %s: %v", n, loader.QuoteIdent(c.name), err)}
			}
			b.Values[i*w+j] = f
		}
	}
	return b, nil
}

// refViewColumn finds the one value array a column uses.
func refViewColumn(c *loadsvcv1.TypedColumn) (refTypedColumn, error) {
	tc := refTypedColumn{name: c.GetName(), nulls: c.GetNulls()}
	set := 0
	use := func(n int, at func(int) (loader.Field, error)) {
		if n > 0 {
			set++
			tc.n, tc.at = n, at
		}
	}
	use(len(c.GetInt64S()), func(i int) (loader.Field, error) {
		return loader.Field{Text: strconv.FormatInt(c.GetInt64S()[i], 10)}, nil
	})
	use(len(c.GetFloat64S()), func(i int) (loader.Field, error) {
		return loader.Field{Text: pgtext.Float(c.GetFloat64S()[i])}, nil
	})
	use(len(c.GetBools()), func(i int) (loader.Field, error) { return loader.Field{Text: strconv.FormatBool(c.GetBools()[i])}, nil })
	use(len(c.GetTexts()), func(i int) (loader.Field, error) { return loader.Text(c.GetTexts()[i]) })
	use(len(c.GetBytesValues()), func(i int) (loader.Field, error) {
		return loader.Field{Text: pgtext.Bytea(c.GetBytesValues()[i])}, nil
	})
	use(len(c.GetTimestampMicros()), func(i int) (loader.Field, error) {
		return loader.Field{Text: pgtext.TimestampMicros(c.GetTimestampMicros()[i])}, nil
	})
	use(len(c.GetJsonValues()), func(i int) (loader.Field, error) { return loader.Text(c.GetJsonValues()[i]) })
	if block := c.GetTextBlock(); len(block) > 0 {
		if !utf8.Valid(block) || block[len(block)-1] != 0 {
			return tc, fmt.Errorf("text_block is not UTF-8 text ending in NUL")
		}
		texts := strings.Split(string(block[:len(block)-1]), "\x00")
		use(len(texts), func(i int) (loader.Field, error) { return loader.Text(texts[i]) })
	}
	switch {
	case set > 1:
		return tc, fmt.Errorf("sets %d value arrays; a column uses exactly one", set)
	case set == 0 && !refAllTrue(tc.nulls):
		return tc, fmt.Errorf("has no values")
	case set == 0:
		tc.n = len(tc.nulls)
	case tc.nulls != nil && len(tc.nulls) != tc.n:
		return tc, fmt.Errorf("has %d values but %d nulls entries", tc.n, len(tc.nulls))
	}
	return tc, nil
}

func refAllTrue(b []bool) bool {
	for _, v := range b {
		if !v {
			return false
		}
	}
	return true
}
