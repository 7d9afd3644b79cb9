package server

import (
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
	structFields   = 1 // Struct.fields: map<string, Value>
	entryKey       = 1
	entryValue     = 2
	valueNull      = 1
	valueNumber    = 2
	valueString    = 3
	valueBool      = 4
	valueStruct    = 5
	valueList      = 6
	listValues     = 1
	maxJSONNesting = 10000 // protobuf-go's own recursion limit
)

// jsonRows decodes the JSON rows of one message — repeated
// google.protobuf.Struct, one per row — straight from the wire into a batch,
// with no Struct object per row. It keeps the semantics of decoding the
// Structs first: the columns are the sorted union of the rows' keys (or the
// stream's columns, which a later message may leave out but not add to), a
// key missing from a row is NULL, a number is plain decimal, an object or
// list is its JSON text with sorted keys, and a map key given twice in one
// row keeps its last value.
//
// Text values point into msg, which the batch keeps alive: a message is
// copied once off the wire and never again.
type jsonRows struct {
	msg     []byte // the message, whose rows field holds one Struct a row
	rows    int
	offset  int // the index of the first row in the load
	columns []string
	index   map[string]int
	fixed   bool // columns come from the stream's first message
}

// scan finds the columns of the rows, refusing names that cannot be
// identifiers, more than maxColumns of them, and a row with no column at
// all, before any row is decoded.
func (j *jsonRows) scan(maxColumns int) error {
	if j.index == nil {
		j.index = make(map[string]int)
	}
	return j.eachRow(func(i int, row []byte) error {
		entries := 0
		err := eachEntry(row, func(key, _ []byte) error {
			entries++
			if _, ok := j.index[string(key)]; ok { // no allocation for a known key
				return nil
			}
			name := string(key)
			if j.fixed {
				return invalidRow(j.offset+i, name, "row %d: column %s is not among the columns of the load (%s); the first message of a stream fixes them",
					j.offset+i, loader.QuoteIdent(name), quoteNames(j.columns))
			}
			if err := loader.CheckIdent(name); err != nil {
				return invalidRow(j.offset+i, name, "row %d: column name %v", j.offset+i, err)
			}
			if len(j.index) >= maxColumns {
				return &loader.ValidationError{Field: "rows", Row: j.offset + i, Reason: fmt.Sprintf(
					"row %d brings column number %d; a load may carry at most %d distinct columns (PostgreSQL's own limit)", j.offset+i, len(j.index)+1, maxColumns)}
			}
			j.index[name] = len(j.columns)
			j.columns = append(j.columns, name)
			return nil
		})
		if err != nil {
			return err
		}
		if entries == 0 {
			n := j.offset + i
			return &loader.ValidationError{Field: "rows[" + strconv.Itoa(n) + "]", Row: n, Reason: fmt.Sprintf(
				"row %d carries no column: every row needs at least one column value (null counts)", n)}
		}
		return nil
	})
}

// sortColumns puts a message's own columns in name order.
func (j *jsonRows) sortColumns() {
	if j.fixed {
		return
	}
	slices.Sort(j.columns)
	for k, c := range j.columns {
		j.index[c] = k
	}
}

// eachRow calls fn with the index and Struct bytes of every row.
func (j *jsonRows) eachRow(fn func(i int, row []byte) error) error {
	i := 0
	return eachField(j.msg, func(num protowire.Number, typ protowire.Type, raw []byte) error {
		if num != fieldRows || typ != protowire.BytesType {
			return nil
		}
		i++
		return fn(i-1, bytesOf(raw))
	})
}

// batch decodes every row's values into a batch with the scanned columns.
func (j *jsonRows) batch() (*loader.Batch, error) {
	n := len(j.columns)
	b := &loader.Batch{Columns: j.columns, Values: make([]loader.Field, j.rows*n), Offset: j.offset}
	for i := range b.Values {
		b.Values[i].Null = true
	}
	err := j.eachRow(func(i int, row []byte) error {
		out := b.Values[i*n : (i+1)*n]
		return eachEntry(row, func(key, value []byte) error {
			f, err := j.value(value)
			if err != nil {
				name := string(key)
				return invalidRow(j.offset+i, name, "row %d, column %s: %v", j.offset+i, loader.QuoteIdent(name), err)
			}
			out[j.index[string(key)]] = f
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// value is one google.protobuf.Value as PostgreSQL input text.
func (j *jsonRows) value(v []byte) (loader.Field, error) {
	kind, raw, err := lastKind(v)
	switch {
	case err != nil:
		return loader.Field{}, err
	case kind == valueNumber:
		return loader.Field{Text: pgtext.Float(math.Float64frombits(fixed64(raw)))}, nil
	case kind == valueString:
		return loader.Text(j.text(raw))
	case kind == valueBool:
		return loader.Field{Text: strconv.FormatBool(varint(raw) != 0)}, nil
	case kind == valueStruct, kind == valueList:
		nested, err := nestedValue(kind, raw, 0)
		if err != nil {
			return loader.Field{}, err
		}
		s, err := pgtext.JSON(nested)
		if err != nil {
			return loader.Field{}, err
		}
		return loader.Text(s)
	}
	return loader.Field{Null: true}, nil // null_value, or no kind at all
}

// text is a string field's bytes as a string that shares the message's
// memory, when they lie inside it.
func (j *jsonRows) text(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// eachEntry calls fn with the key and value bytes of every map entry of a
// Struct, in wire order.
func eachEntry(st []byte, fn func(key, value []byte) error) error {
	return eachField(st, func(num protowire.Number, typ protowire.Type, raw []byte) error {
		if num != structFields || typ != protowire.BytesType {
			return nil
		}
		var key, value []byte
		err := eachField(bytesOf(raw), func(num protowire.Number, typ protowire.Type, raw []byte) error {
			if typ != protowire.BytesType {
				return nil
			}
			switch num {
			case entryKey:
				key = bytesOf(raw)
			case entryValue:
				value = bytesOf(raw)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !utf8.Valid(key) {
			return errInvalidUTF8
		}
		return fn(key, value)
	})
}

var errInvalidUTF8 = errors.New("string field contains invalid UTF-8")

// lastKind returns which of a Value's oneof fields the wire sets last, and
// that field's raw bytes (tag excluded); 0 for none.
func lastKind(v []byte) (protowire.Number, []byte, error) {
	var kind protowire.Number
	var raw []byte
	err := eachField(v, func(num protowire.Number, typ protowire.Type, b []byte) error {
		if want, ok := valueTypes[num]; ok && typ == want {
			kind, raw = num, b
			if num == valueString && !utf8.Valid(bytesOf(b)) {
				return errInvalidUTF8
			}
		}
		return nil
	})
	if kind == valueString || kind == valueStruct || kind == valueList {
		raw = bytesOf(raw)
	}
	return kind, raw, err
}

// valueTypes is the wire type of each of google.protobuf.Value's fields.
var valueTypes = map[protowire.Number]protowire.Type{
	valueNull: protowire.VarintType, valueNumber: protowire.Fixed64Type, valueString: protowire.BytesType,
	valueBool: protowire.VarintType, valueStruct: protowire.BytesType, valueList: protowire.BytesType,
}

// nestedValue decodes an object or list Value into the Go value that
// encoding/json writes: map[string]any, []any, float64, string, bool, nil.
func nestedValue(kind protowire.Number, raw []byte, depth int) (any, error) {
	if depth > maxJSONNesting {
		return nil, fmt.Errorf("nested deeper than %d levels", maxJSONNesting)
	}
	switch kind {
	case valueStruct:
		m := map[string]any{}
		err := eachEntry(raw, func(key, value []byte) error {
			v, err := nestedOf(value, depth)
			m[string(key)] = v
			return err
		})
		return m, err
	case valueList:
		list := []any{}
		err := eachField(raw, func(num protowire.Number, typ protowire.Type, b []byte) error {
			if num != listValues || typ != protowire.BytesType {
				return nil
			}
			v, err := nestedOf(bytesOf(b), depth)
			list = append(list, v)
			return err
		})
		return list, err
	}
	return nil, nil
}

func nestedOf(value []byte, depth int) (any, error) {
	kind, raw, err := lastKind(value)
	if err != nil {
		return nil, err
	}
	switch kind {
	case valueNumber:
		return math.Float64frombits(fixed64(raw)), nil
	case valueString:
		return string(raw), nil
	case valueBool:
		return varint(raw) != 0, nil
	case valueStruct, valueList:
		return nestedValue(kind, raw, depth+1)
	}
	return nil, nil
}

// eachField calls fn for every field of a message with its number, wire
// type and value bytes (tag excluded), refusing malformed input as
// proto.Unmarshal does.
func eachField(msg []byte, fn func(num protowire.Number, typ protowire.Type, raw []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("malformed message: %w", protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return fmt.Errorf("malformed message: field number %d out of range", num)
		}
		msg = msg[n:]
		m := protowire.ConsumeFieldValue(num, typ, msg)
		if m < 0 {
			return fmt.Errorf("malformed message: %w", protowire.ParseError(m))
		}
		raw := msg[:m]
		msg = msg[m:]
		if typ == protowire.StartGroupType {
			continue // groups are unknown fields here
		}
		if err := fn(num, typ, raw); err != nil {
			return err
		}
	}
	return nil
}

// The values of fields whose wire type eachField has checked.
func fixed64(b []byte) uint64 { v, _ := protowire.ConsumeFixed64(b); return v }
func varint(b []byte) uint64  { v, _ := protowire.ConsumeVarint(b); return v }
func bytesOf(b []byte) []byte { v, _ := protowire.ConsumeBytes(b); return v }

func invalidRow(row int, column, format string, args ...any) *loader.ValidationError {
	return &loader.ValidationError{Field: "rows[" + strconv.Itoa(row) + "]." + loader.Cap(column), Row: row, Reason: fmt.Sprintf(format, args...)}
}

func quoteNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += loader.QuoteIdent(n)
	}
	return out
}
