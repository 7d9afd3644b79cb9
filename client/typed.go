package client

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loadsvc/loadsvc/pgtext"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Row is one row to load: column name → value. Columns a row leaves out are
// NULL for it. Values travel in the typed form (TypedRows):
//
//   - nil, a nil pointer, a nil []byte, map or slice: NULL
//   - string, json.Number, fmt.Stringer: text, parsed by PostgreSQL's input
//     function of the column's type (so "2024-11-01" fills a date and
//     json.Number("12.30") a numeric exactly)
//   - bool: boolean
//   - every int kind, and uint kinds up to math.MaxInt64: 64-bit integers;
//     larger uints go as decimal text
//   - float32, float64: float64 (NaN and ±Inf included)
//   - []byte: bytea
//   - time.Time: a timestamp, exact to the microsecond (finer digits are
//     dropped); a timestamp without time zone gets the UTC wall clock
//   - json.RawMessage (as is), map[string]any, []any and any other map,
//     slice, array or struct (through encoding/json): JSON text
//   - driver.Valuer (sql.NullInt64, ...): its Value, as above
//   - a pointer: the value it points to; a named type of a basic kind (type
//     Code string): as its kind
//
// Within one message a column's kind is that of its first non-NULL value;
// when a later value of the message has another kind, the whole column goes
// as PostgreSQL input text (numbers in plain decimal, times in RFC 3339 with
// microseconds in UTC, bytes as \x hex, JSON as its text).
type Row map[string]any

// kind is the typed array a value travels in.
type kind uint8

const (
	kindNull  kind = iota // NULL, or a column with no value yet
	kindInt               // int64s
	kindFloat             // float64s
	kindBool              // bools
	kindText              // texts
	kindBytes             // bytes_values
	kindTime              // timestamp_micros
	kindJSON              // json_values
)

// cell is one encoded value.
type cell struct {
	kind kind
	i    int64 // kindInt; kindTime as microseconds since the Unix epoch
	f    float64
	b    bool
	s    string // kindText, kindJSON
	by   []byte // kindBytes
}

// encode turns a Go value into a cell (see Row).
func encode(v any) (cell, error) {
	switch v := v.(type) {
	case nil:
		return cell{}, nil
	case string:
		return cell{kind: kindText, s: v}, nil
	case bool:
		return cell{kind: kindBool, b: v}, nil
	case int:
		return intCell(int64(v)), nil
	case int64:
		return intCell(v), nil
	case int32:
		return intCell(int64(v)), nil
	case int16:
		return intCell(int64(v)), nil
	case int8:
		return intCell(int64(v)), nil
	case uint:
		return uintCell(uint64(v)), nil
	case uint64:
		return uintCell(v), nil
	case uint32:
		return intCell(int64(v)), nil
	case uint16:
		return intCell(int64(v)), nil
	case uint8:
		return intCell(int64(v)), nil
	case float64:
		return cell{kind: kindFloat, f: v}, nil
	case float32:
		return cell{kind: kindFloat, f: float64(v)}, nil
	case []byte:
		if v == nil {
			return cell{}, nil
		}
		return cell{kind: kindBytes, by: v}, nil
	case time.Time:
		return cell{kind: kindTime, i: v.UnixMicro()}, nil
	case json.Number:
		return cell{kind: kindText, s: string(v)}, nil
	case json.RawMessage:
		if v == nil {
			return cell{}, nil
		}
		return cell{kind: kindJSON, s: string(v)}, nil
	case map[string]any:
		if v == nil {
			return cell{}, nil
		}
		return jsonCell(v)
	case []any:
		if v == nil {
			return cell{}, nil
		}
		return jsonCell(v)
	}
	return encodeOther(v)
}

// encodeOther handles what encode's fast path does not know: pointers,
// driver.Valuer, fmt.Stringer and named types.
func encodeOther(v any) (cell, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return cell{}, nil
		}
		return encode(rv.Elem().Interface())
	}
	switch v := v.(type) {
	case driver.Valuer:
		dv, err := v.Value()
		if err != nil {
			return cell{}, fmt.Errorf("value of %T: %w", v, err)
		}
		if _, again := dv.(driver.Valuer); again {
			return cell{}, fmt.Errorf("value of %T is itself a driver.Valuer (%T)", v, dv)
		}
		return encode(dv)
	case fmt.Stringer:
		return cell{kind: kindText, s: v.String()}, nil
	}
	return encodeKind(rv)
}

// encodeKind handles a value by its reflect kind: named basic types, and
// maps, slices, arrays and structs as JSON.
func encodeKind(rv reflect.Value) (cell, error) {
	switch rv.Kind() {
	case reflect.String:
		return cell{kind: kindText, s: rv.String()}, nil
	case reflect.Bool:
		return cell{kind: kindBool, b: rv.Bool()}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intCell(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintCell(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return cell{kind: kindFloat, f: rv.Float()}, nil
	case reflect.Slice:
		if rv.IsNil() {
			return cell{}, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return cell{kind: kindBytes, by: rv.Bytes()}, nil
		}
		return jsonCell(rv.Interface())
	case reflect.Map:
		if rv.IsNil() {
			return cell{}, nil
		}
		return jsonCell(rv.Interface())
	case reflect.Array, reflect.Struct:
		return jsonCell(rv.Interface())
	}
	return cell{}, fmt.Errorf("unsupported value type %s", rv.Type())
}

func intCell(i int64) cell { return cell{kind: kindInt, i: i} }

// uintCell is an int64 when u fits, else decimal text.
func uintCell(u uint64) cell {
	if u <= math.MaxInt64 {
		return intCell(int64(u))
	}
	return cell{kind: kindText, s: strconv.FormatUint(u, 10)}
}

// jsonCell writes v as compact JSON without HTML escaping.
func jsonCell(v any) (cell, error) {
	s, err := pgtext.JSON(v)
	if err != nil {
		return cell{}, fmt.Errorf("as JSON: %w", err)
	}
	return cell{kind: kindJSON, s: s}, nil
}

// text renders the cell as PostgreSQL input text.
func (v cell) text() string {
	switch v.kind {
	case kindInt:
		return strconv.FormatInt(v.i, 10)
	case kindFloat:
		return pgtext.Float(v.f)
	case kindBool:
		return strconv.FormatBool(v.b)
	case kindBytes:
		return pgtext.Bytea(v.by)
	case kindTime:
		return pgtext.TimestampMicros(v.i)
	}
	return v.s
}

// column is one column of a batch being built. Its slices are kept and
// reused from batch to batch.
type column struct {
	name    string
	kind    kind // of the first non-NULL value; kindNull while there is none
	n       int  // rows so far
	nulls   []bool
	hasNull bool
	ints    []int64 // kindInt, kindTime
	floats  []float64
	bools   []bool
	texts   []string // kindText, kindJSON
	bytes   [][]byte
}

// add appends one value. Bytes are copied into arena, so the caller may
// reuse its buffers once Write returns.
func (c *column) add(v cell, arena *[]byte) {
	c.nulls = append(c.nulls, v.kind == kindNull)
	switch {
	case v.kind == kindNull:
		c.hasNull = true
		if c.kind != kindNull {
			c.appendZero()
		}
	case c.kind == kindNull:
		c.kind = v.kind
		for range c.n {
			c.appendZero()
		}
		c.appendValue(v, arena)
	case c.kind == v.kind:
		c.appendValue(v, arena)
	default:
		c.toText()
		c.texts = append(c.texts, v.text())
	}
	c.n++
}

// appendZero appends the ignored entry of a NULL row.
func (c *column) appendZero() {
	switch c.kind {
	case kindInt, kindTime:
		c.ints = append(c.ints, 0)
	case kindFloat:
		c.floats = append(c.floats, 0)
	case kindBool:
		c.bools = append(c.bools, false)
	case kindText, kindJSON:
		c.texts = append(c.texts, "")
	case kindBytes:
		c.bytes = append(c.bytes, nil)
	}
}

func (c *column) appendValue(v cell, arena *[]byte) {
	switch c.kind {
	case kindInt, kindTime:
		c.ints = append(c.ints, v.i)
	case kindFloat:
		c.floats = append(c.floats, v.f)
	case kindBool:
		c.bools = append(c.bools, v.b)
	case kindText, kindJSON:
		c.texts = append(c.texts, v.s)
	case kindBytes:
		start := len(*arena)
		*arena = append(*arena, v.by...)
		c.bytes = append(c.bytes, (*arena)[start:len(*arena):len(*arena)])
	}
}

// toText turns the column's values so far into texts: a message carries
// one value array per column, and this column's values differ in kind.
func (c *column) toText() {
	switch c.kind {
	case kindText:
		return
	case kindJSON:
		c.kind = kindText
		return
	}
	for i := range c.n {
		s := ""
		if !c.nulls[i] {
			s = c.at(i).text()
		}
		c.texts = append(c.texts, s)
	}
	c.clearTyped()
	c.kind = kindText
}

// at is the value of row i, which is not NULL.
func (c *column) at(i int) cell {
	switch c.kind {
	case kindInt, kindTime:
		return cell{kind: c.kind, i: c.ints[i]}
	case kindFloat:
		return cell{kind: kindFloat, f: c.floats[i]}
	case kindBool:
		return cell{kind: kindBool, b: c.bools[i]}
	case kindBytes:
		return cell{kind: kindBytes, by: c.bytes[i]}
	}
	return cell{kind: c.kind, s: c.texts[i]}
}

func (c *column) clearTyped() {
	c.ints = c.ints[:0]
	c.floats = c.floats[:0]
	c.bools = c.bools[:0]
	clear(c.bytes)
	c.bytes = c.bytes[:0]
}

// reset empties the column for the next batch, keeping its slices.
func (c *column) reset() {
	c.clearTyped()
	clear(c.texts)
	c.texts = c.texts[:0]
	c.nulls = c.nulls[:0]
	c.kind, c.n, c.hasNull = kindNull, 0, false
}

// message is the column as a TypedColumn. It shares the column's slices,
// so it is valid until the next reset.
func (c *column) message() *loadsvcv1.TypedColumn {
	tc := &loadsvcv1.TypedColumn{Name: c.name}
	if c.hasNull {
		tc.Nulls = c.nulls
	}
	switch c.kind {
	case kindInt:
		tc.Int64S = c.ints
	case kindTime:
		tc.TimestampMicros = c.ints
	case kindFloat:
		tc.Float64S = c.floats
	case kindBool:
		tc.Bools = c.bools
	case kindText:
		tc.Texts = c.texts
	case kindJSON:
		tc.JsonValues = c.texts
	case kindBytes:
		tc.BytesValues = c.bytes
	}
	return tc
}

// batch builds one TypedRows message from rows, column by column, as the
// rows arrive. A Writer reuses one batch for its whole stream.
type batch struct {
	cols   []*column
	byName map[string]*column
	sorted bool
	rows   int
	// fixed: the column set may not grow (a stream after its first
	// message, whose columns the server keeps for the whole load).
	fixed   bool
	pending []pending
	arena   []byte // copies of the batch's []byte values
}

type pending struct {
	col  *column
	name string
	v    cell
}

func newBatch() *batch { return &batch{byName: map[string]*column{}} }

// add appends one row; row is its index in the load, for errors. A row
// that fails leaves the batch as it was.
func (b *batch) add(r Row, row int64) error {
	b.pending = b.pending[:0]
	var added []string
	for name, v := range r {
		cv, err := encode(v)
		if err != nil {
			return rowError(row, name, fmt.Sprintf("row %d, column %q: %v", row, name, err))
		}
		col := b.byName[name]
		if col == nil && b.fixed {
			added = append(added, name)
		}
		b.pending = append(b.pending, pending{col: col, name: name, v: cv})
	}
	if added != nil {
		return b.newColumnError(row, added)
	}
	b.commit()
	return nil
}

// commit appends the pending row, NULL for every column it leaves out.
func (b *batch) commit() {
	for _, p := range b.pending {
		col := p.col
		if col == nil {
			col = b.column(p.name)
		}
		col.add(p.v, &b.arena)
	}
	b.rows++
	for _, c := range b.cols {
		if c.n < b.rows {
			c.add(cell{}, nil)
		}
	}
}

// column adds a column, NULL in the rows before.
func (b *batch) column(name string) *column {
	c := &column{name: name}
	for range b.rows {
		c.add(cell{}, nil)
	}
	b.cols = append(b.cols, c)
	b.byName[name] = c
	b.sorted = false
	return c
}

func (b *batch) newColumnError(row int64, added []string) error {
	sort.Strings(added)
	b.sortColumns()
	have := make([]string, len(b.cols))
	for i, c := range b.cols {
		have[i] = strconv.Quote(c.name)
	}
	return rowError(row, added[0], fmt.Sprintf(
		"row %d adds column %s to a stream whose columns the first message fixed (%s): a later row may leave a column out (NULL) but not add one; start another Writer for these rows",
		row, quoteAll(added), strings.Join(have, ", ")))
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func (b *batch) sortColumns() {
	if !b.sorted {
		sort.Slice(b.cols, func(i, j int) bool { return b.cols[i].name < b.cols[j].name })
		b.sorted = true
	}
}

// message is the batch as TypedRows, columns sorted by name, or nil for no
// rows. It shares the batch's slices, so it is valid until the next reset.
func (b *batch) message() *loadsvcv1.TypedRows {
	if b.rows == 0 {
		return nil
	}
	b.sortColumns()
	tr := &loadsvcv1.TypedRows{Columns: make([]*loadsvcv1.TypedColumn, len(b.cols))}
	for i, c := range b.cols {
		tr.Columns[i] = c.message()
	}
	return tr
}

// reset empties the batch for the next message, keeping its columns and
// their slices.
func (b *batch) reset() {
	for _, c := range b.cols {
		c.reset()
	}
	clear(b.pending)
	b.pending = b.pending[:0]
	b.arena = b.arena[:0]
	b.rows = 0
}
