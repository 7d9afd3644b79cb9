package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/pgtext"
)

// The field numbers of google.protobuf.Struct, Value and ListValue.
const (
	structFields = 1 // Struct.fields: map<string, Value>
	entryKey     = 1
	entryValue   = 2
	valueNull    = 1
	valueNumber  = 2
	valueString  = 3
	valueBool    = 4
	valueStruct  = 5
	valueList    = 6
	listValues   = 1
)

// jsonRows decodes the JSON rows of one message — repeated
// google.protobuf.Struct, one a row — straight from the wire into a batch,
// with no Struct object a row. It walks the message twice, in order: scan
// finds the columns, checks every value and counts the bytes the batch will
// take, which the request's claim on the budget admits before fill writes
// the batch.
//
// It keeps the semantics of decoding the Structs: the columns are the sorted
// union of the rows' keys (or the stream's columns, which a later message
// may leave out but not add to), a key missing from a row is NULL, a number
// is plain decimal, an object or list is its JSON text with sorted keys, and
// a map key given twice keeps its last value. Text values point into the
// message, which the batch keeps alive; numbers and JSON texts share one
// arena of the size scan counted.
type jsonRows struct {
	ctx       context.Context
	msg       []byte
	rowsField protowire.Number // the rows' field in msg
	rows      int
	offset    int // the index of the first row in the load
	columns   []string
	index     map[string]int
	fixed     bool // columns come from the stream's first message
	// order is the column of each entry of the row before, by position:
	// rows tend to give their keys in one order, so that is tried first.
	order []int
	text  int    // bytes of number and JSON text that fill writes, at most
	arena []byte // fill's number and JSON texts
	// work counts the fields walked and the text bytes checked, which
	// bound the decoder's time: linear in the message's bytes.
	work, nextCheck int
	scratch         [loader.MaxNesting + 1][]objectEntry // fill's entries of an object, by depth
}

// fieldBytes is what one decoded value takes in a batch, besides its text.
const fieldBytes = int(unsafe.Sizeof(loader.Field{}))

// checkEvery is how much work passes between two looks at the request's
// context: a client that has gone stops the decoding within a fraction of
// a millisecond.
const checkEvery = 1 << 16

// newJSONRows is the rows of msg, the first of which is row offset of the
// load; fixed are a stream's columns, nil for a message that finds its own.
func newJSONRows(ctx context.Context, msg []byte, rows, offset int, fixed []string) *jsonRows {
	j := &jsonRows{ctx: ctx, msg: msg, rowsField: fieldRows, rows: rows, offset: offset, index: make(map[string]int, len(fixed)), nextCheck: checkEvery}
	if fixed != nil {
		j.columns, j.fixed = fixed, true
		for i, c := range fixed {
			j.index[c] = i
		}
	}
	return j
}

// decodedBytes is what the batch will take once filled.
func (j *jsonRows) decodedBytes() int64 {
	return int64(j.rows)*int64(len(j.columns))*int64(fieldBytes) + int64(j.text)
}

// step adds n to the work done and, every checkEvery, asks whether the
// request is still wanted.
func (j *jsonRows) step(n int) error {
	if j.work += n; j.work < j.nextCheck {
		return nil
	}
	return j.wanted()
}

func (j *jsonRows) wanted() error {
	j.nextCheck = j.work + checkEvery
	return j.ctx.Err()
}

// eachRow calls fn with the index in the load and the bytes of every row.
func (j *jsonRows) eachRow(fn func(n int, row []byte) error) error {
	msg, i := j.msg, 0
	for len(msg) > 0 {
		num, typ, row, rest, err := nextField(msg)
		if err != nil || num == 0 {
			return err
		}
		msg = rest
		if err := j.step(1); err != nil {
			return err
		}
		if num != j.rowsField || typ != protowire.BytesType {
			continue
		}
		if err := fn(j.offset+i, row); err != nil {
			return err
		}
		i++
	}
	return nil
}

// eachEntry calls fn with the position, key and value of every map entry
// of a Struct, in wire order; a malformed entry is refused with the key it
// has.
func (j *jsonRows) eachEntry(st []byte, fn func(k int, key, value []byte) error) error {
	for k := 0; len(st) > 0; {
		num, typ, e, rest, err := nextField(st)
		if err != nil || num == 0 {
			return err
		}
		st = rest
		if err := j.step(1); err != nil {
			return err
		}
		if num != structFields || typ != protowire.BytesType {
			continue
		}
		key, value, err := j.entry(e)
		if err != nil {
			return err
		}
		if err := fn(k, key, value); err != nil {
			return err
		}
		k++
	}
	return nil
}

// entry is one map entry's key and value. proto keeps the last key given
// after checking each as UTF-8: the callers check the last (a column's
// name once, when it is new); a value given twice would be merged, and is
// refused as non-canonical.
func (j *jsonRows) entry(e []byte) (key, value []byte, err error) {
	// The common entry: a key, then a value, each with a one-byte length.
	if len(e) >= 4 && e[0] == entryKey<<3|byte(protowire.BytesType) && e[1] < 0x80 {
		if k := 2 + int(e[1]); k+2 <= len(e) && e[k] == entryValue<<3|byte(protowire.BytesType) && e[k+1] < 0x80 && k+2+int(e[k+1]) == len(e) {
			return e[2:k], e[k+2:], j.step(2)
		}
	}
	for len(e) > 0 {
		num, typ, val, rest, err := nextField(e)
		if err != nil || num == 0 {
			return key, value, err
		}
		e = rest
		if err := j.step(1 + len(val)); err != nil {
			return nil, nil, err
		}
		switch {
		case typ != protowire.BytesType:
		case num == entryKey && !utf8.Valid(val):
			return nil, nil, errInvalidUTF8
		case num == entryKey:
			key = val
		case num == entryValue && value != nil:
			return nil, nil, errNonCanonical
		case num == entryValue:
			value = val
		}
	}
	return key, value, nil
}

// scan finds the columns of the rows and checks every value, before
// anything is allocated for them: names that cannot be identifiers, more
// than loader.MaxColumns of them, a row with no column, text PostgreSQL
// cannot store, values nested too deep. The columns end up sorted.
func (j *jsonRows) scan() error {
	err := j.eachRow(func(n int, row []byte) error {
		entries := 0
		err := j.eachEntry(row, func(k int, key, value []byte) error {
			entries++
			c, err := j.column(n, k, key)
			if err != nil {
				return err
			}
			t, err := j.check(value, 0)
			if err != nil && !isRefusal(err) {
				return loader.BadValue(n, j.columns[c], "%v", err)
			}
			j.text += t
			return err
		})
		switch {
		case err != nil && !isRefusal(err):
			return &loader.ValidationError{Field: "rows[" + strconv.Itoa(n) + "]", Row: n, Reason: fmt.Sprintf("row %d is not a valid google.protobuf.Struct: %v", n, err)}
		case err != nil:
			return err
		case entries == 0:
			return loader.EmptyRow(n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	j.sortColumns()
	return nil
}

// isRefusal tells a refusal already worded for the client, or the
// request's end, from a malformed wire.
func isRefusal(err error) bool {
	var ve *loader.ValidationError
	return errors.As(err, &ve) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// column is the index of entry k's column in row n, interning a new name.
func (j *jsonRows) column(n, k int, key []byte) (int, error) {
	if k < len(j.order) {
		if c := j.order[k]; j.columns[c] == string(key) { // no allocation
			return c, nil
		}
	}
	c, ok := -1, false
	if len(j.columns) <= 8 { // cheaper than hashing the name
		c = slices.IndexFunc(j.columns, func(name string) bool { return name == string(key) })
		ok = c >= 0
	} else {
		c, ok = j.index[string(key)]
	}
	if !ok {
		var err error
		if c, err = j.add(n, string(key)); err != nil {
			return 0, err
		}
	}
	switch {
	case k < len(j.order):
		j.order[k] = c
	case k == len(j.order) && k < loader.MaxColumns:
		j.order = append(j.order, c)
	}
	return c, nil
}

// add interns a column name that row n brings, refusing one that cannot be
// a column of the load.
func (j *jsonRows) add(n int, name string) (int, error) {
	if !utf8.ValidString(name) {
		return 0, &loader.ValidationError{Field: "rows[" + strconv.Itoa(n) + "]", Row: n, Reason: fmt.Sprintf("row %d: a column name is not valid UTF-8", n)}
	}
	if j.fixed {
		return 0, loader.BadValue(n, name, "the column is not among the columns of the load (%s); the first message of a stream fixes them", loader.QuoteNames(j.columns))
	}
	if err := loader.CheckIdent(name); err != nil {
		return 0, &loader.ValidationError{Field: "rows[" + strconv.Itoa(n) + "]." + loader.Cap(name), Row: n, Reason: fmt.Sprintf("row %d: column name %v", n, err)}
	}
	if err := loader.CheckColumns(len(j.columns)+1, n, "rows"); err != nil {
		return 0, err
	}
	j.index[name] = len(j.columns)
	j.columns = append(j.columns, name)
	return len(j.columns) - 1, nil
}

// sortColumns puts a message's own columns in name order.
func (j *jsonRows) sortColumns() {
	j.order = j.order[:0]
	if j.fixed {
		return
	}
	slices.Sort(j.columns)
	for k, c := range j.columns {
		j.index[c] = k
	}
}

// check refuses a Value that proto.Unmarshal would refuse, or PostgreSQL
// could not store, or that nests deeper than loader.MaxNesting, and returns
// the bytes of text fill writes for it. depth is 0 for a column's value, 1
// for a value inside an object or list of it, and so on; inside, every value
// is JSON text.
func (j *jsonRows) check(v []byte, depth int) (int, error) {
	kind, raw, err := j.kind(v, depth, true)
	if err != nil {
		return 0, err
	}
	switch kind {
	case valueNumber:
		return numberText(math.Float64frombits(fixed64(raw)), depth > 0), nil
	case valueString:
		if depth > 0 {
			return 2 + 6*len(raw), nil // quoted, each byte escaped at worst as \u00XX
		}
		return 0, loader.CheckText(bytesText(raw)) // it points into the message
	case valueStruct, valueList:
		return j.checkNested(kind, raw, depth)
	}
	if depth > 0 {
		return len("false"), nil // null, a bool, or no kind at all
	}
	return 0, nil
}

// kind returns which of a Value's oneof fields the wire sets last, and that
// field's value (a string's or message's bytes); 0 for none. With check it
// does what proto.Unmarshal does besides: every string is valid UTF-8, and
// an object or list that a later field replaces still parses. The same
// object or list field given twice would be merged, and is refused.
func (j *jsonRows) kind(v []byte, depth int, check bool) (protowire.Number, []byte, error) {
	// The common Value: one number, or one short string.
	switch {
	case len(v) == 9 && v[0] == valueNumber<<3|byte(protowire.Fixed64Type):
		return valueNumber, v[1:], j.step(1)
	case len(v) >= 2 && v[0] == valueString<<3|byte(protowire.BytesType) && v[1] < 0x80 && int(v[1]) == len(v)-2:
		if check && !utf8.Valid(v[2:]) {
			return 0, nil, errInvalidUTF8
		}
		return valueString, v[2:], j.step(1 + len(v))
	}
	var kind protowire.Number
	var raw []byte
	var seen [valueList + 1]bool
	for len(v) > 0 {
		num, typ, val, rest, err := nextField(v)
		if err != nil || num == 0 {
			return 0, nil, err
		}
		v = rest
		if err := j.step(1); err != nil {
			return 0, nil, err
		}
		if typ != valueType(num) {
			continue
		}
		if check {
			if err := j.checkReplaced(num, val, kind, raw, depth, &seen); err != nil {
				return 0, nil, err
			}
		}
		kind, raw = num, val
	}
	return kind, raw, nil
}

// checkReplaced checks field num of a Value, which replaces the field kind
// before it (0 for none): a string must be UTF-8, an object or list given
// again is refused, and a replaced object or list must parse.
func (j *jsonRows) checkReplaced(num protowire.Number, val []byte, kind protowire.Number, raw []byte, depth int, seen *[valueList + 1]bool) error {
	switch {
	case num == valueString && !utf8.Valid(val):
		return errInvalidUTF8
	case num == valueString:
		if err := j.step(len(val)); err != nil {
			return err
		}
	case (num == valueStruct || num == valueList) && seen[num]:
		return errNonCanonical
	}
	seen[num] = true
	if kind == valueStruct || kind == valueList {
		_, err := j.checkNested(kind, raw, depth)
		return err
	}
	return nil
}

// valueType is the wire type of each of google.protobuf.Value's fields,
// -1 for a field it does not have.
func valueType(num protowire.Number) protowire.Type {
	switch num {
	case valueNull, valueBool:
		return protowire.VarintType
	case valueNumber:
		return protowire.Fixed64Type
	case valueString, valueStruct, valueList:
		return protowire.BytesType
	}
	return -1
}

// checkNested checks an object or list at depth and returns the bytes of
// its JSON text, at most.
func (j *jsonRows) checkNested(kind protowire.Number, raw []byte, depth int) (int, error) {
	if depth+1 > loader.MaxNesting {
		return 0, fmt.Errorf("the value nests deeper than %d levels of objects and lists", loader.MaxNesting)
	}
	text := 2 // {} or []
	if kind == valueStruct {
		err := j.eachEntry(raw, func(_ int, key, value []byte) error {
			if !utf8.Valid(key) {
				return errInvalidUTF8
			}
			t, err := j.check(value, depth+1)
			text += 2 + 6*len(key) + 2 + t // "key":value,
			return err
		})
		return text, err
	}
	err := eachField(raw, func(num protowire.Number, typ protowire.Type, b []byte) error {
		if err := j.step(1); err != nil || num != listValues || typ != protowire.BytesType {
			return err
		}
		t, err := j.check(b, depth+1)
		text += 1 + t
		return err
	})
	return text, err
}

// numberText is the most bytes a number's text takes: plain decimal for a
// column (JSON's form inside a JSON value), whose length is short between
// 1e-6 and 1e21 and is measured outside.
func numberText(f float64, inJSON bool) int {
	const short = 26 // a sign, 21 digits or 17 and "0.00000", a point
	if a := math.Abs(f); inJSON || a == 0 || (a >= 1e-6 && a < 1e21) || math.IsNaN(f) || math.IsInf(f, 0) {
		return short
	}
	return len(pgtext.AppendFloat(make([]byte, 0, 400), f))
}

// fill decodes every row's values into one batch of the scanned columns.
func (j *jsonRows) fill() (*loader.Batch, error) {
	w := len(j.columns)
	b := &loader.Batch{Columns: j.columns, Values: make([]loader.Field, j.rows*w), Offset: j.offset}
	for i := range b.Values {
		b.Values[i].Null = true
	}
	j.arena = make([]byte, 0, j.text)
	err := j.eachRow(func(n int, row []byte) error {
		out := b.Row(n - j.offset)
		return j.eachEntry(row, func(k int, key, value []byte) error {
			c, err := j.column(n, k, key)
			if err == nil {
				out[c], err = j.field(value)
			}
			return err
		})
	})
	return b, err
}

// field is a column's Value as PostgreSQL input text; scan has checked it.
func (j *jsonRows) field(v []byte) (loader.Field, error) {
	kind, raw, err := j.kind(v, 0, false)
	start := len(j.arena)
	switch {
	case err != nil:
		return loader.Field{}, err
	case kind == valueNumber:
		j.arena = pgtext.AppendFloat(j.arena, math.Float64frombits(fixed64(raw)))
	case kind == valueString:
		return loader.Field{Text: bytesText(raw)}, nil
	case kind == valueBool:
		return loader.Field{Text: strconv.FormatBool(varint(raw) != 0)}, nil
	case kind == valueStruct, kind == valueList:
		if j.arena, err = j.appendJSON(j.arena, kind, raw, 1); err != nil {
			return loader.Field{}, err
		}
	default:
		return loader.Field{Null: true}, nil // null_value, or no kind at all
	}
	return loader.Field{Text: bytesText(j.arena[start:])}, nil
}

// bytesText is bytes as a string that shares their memory: the message's,
// never written after it came off the wire, or the arena's, never written
// where a text was made.
func bytesText(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
