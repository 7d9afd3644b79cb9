package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/pgtext"
)

// The field numbers of TypedRows and TypedColumn.
const (
	typedColumns   = 1 // TypedRows.columns
	columnName     = 1
	columnNulls    = 2
	columnInt64s   = 3 // sint64
	columnFloat64s = 4
	columnBools    = 5
	columnTexts    = 6
	columnBytes    = 7
	columnMicros   = 8 // int64
	columnJSON     = 9
	columnBlock    = 10 // text_block
)

// typedColumn is one TypedColumn of a message, read off the wire but not
// decoded: its name, its nulls, and which value array it uses with how
// many values.
type typedColumn struct {
	msg      []byte // the TypedColumn's bytes
	name     string
	nulls    int              // entries of its nulls array
	nullsAll bool             // every one of them true
	array    protowire.Number // the value array it sets; 0 for none
	n        int              // values in it
	sets     int              // value arrays it sets: one, or it is refused
	text     int              // bytes of text fill writes for it, at most
	block    []byte           // its text_block (the last one given, as proto reads it)
}

// decodeTyped decodes the typed rows of a message — one TypedRows of
// columns TypedColumns — straight from the wire into a batch with its
// columns sorted by name, as JSON rows get them. Text values point into the
// message and numbers into one arena; offset is the index of its first row
// in the load. Columns, rows and values are counted, and the batch claimed,
// before anything is allocated for them.
func decodeTyped(ctx context.Context, cfg *loader.Config, cl *claim, typedRows []byte, columns, offset int) (*loader.Batch, error) {
	if err := loader.CheckColumns(columns, -1, "typed_rows.columns"); err != nil {
		return nil, err
	}
	cols := make([]typedColumn, 0, columns)
	err := eachField(typedRows, func(num protowire.Number, typ protowire.Type, val []byte) error {
		if num != typedColumns || typ != protowire.BytesType {
			return nil
		}
		c, err := readColumn(val)
		cols = append(cols, c)
		if err == nil {
			err = ctx.Err()
		}
		return err
	})
	if err != nil && !isRefusal(err) {
		return nil, &loader.ValidationError{Field: "typed_rows", Row: -1, Reason: "typed_rows is not a valid TypedRows: " + err.Error()}
	}
	if err != nil {
		return nil, err
	}
	rows, err := checkColumns(cols)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckRows(offset + rows); err != nil {
		return nil, err
	}
	if err := cfg.CheckCells(offset, rows, len(cols), "typed_rows"); err != nil {
		return nil, err
	}
	text := 0
	for _, c := range cols {
		text += c.text
	}
	if err := cl.take(ctx, int64(rows)*int64(len(cols))*int64(fieldBytes)+int64(text)); err != nil {
		return nil, err
	}
	slices.SortFunc(cols, func(a, b typedColumn) int { return strings.Compare(a.name, b.name) })
	return fillTyped(cols, rows, offset, text)
}

// readColumn reads one TypedColumn, refusing malformed input as
// proto.Unmarshal does: a packed array or a string that does not parse.
// A field of a wire type its number does not have is unknown, and skipped.
func readColumn(msg []byte) (typedColumn, error) {
	c := typedColumn{msg: msg, nullsAll: true}
	var counts [columnJSON + 1]int
	err := eachField(msg, func(num protowire.Number, typ protowire.Type, val []byte) error {
		packed, ok := arrayWire(num, typ)
		switch {
		case num == columnName && typ == protowire.BytesType:
			if !utf8.Valid(val) {
				return errInvalidUTF8
			}
			c.name = string(val)
		case !ok:
		case num == columnBlock:
			c.block = val
		case num == columnNulls:
			return eachScalar(num, packed, val, func(v uint64) {
				c.nulls++
				c.nullsAll = c.nullsAll && v != 0
			})
		case (num == columnTexts || num == columnJSON) && !utf8.Valid(val):
			return errInvalidUTF8
		case num == columnTexts || num == columnJSON:
			counts[num]++
		case num == columnBytes:
			counts[num]++
			c.text += 2 + 2*len(val)
		default:
			return eachScalar(num, packed, val, func(v uint64) {
				counts[num]++
				c.text += scalarText(num, v)
			})
		}
		return nil
	})
	for num := columnInt64s; num <= columnJSON; num++ {
		if counts[num] > 0 {
			c.array, c.n = protowire.Number(num), counts[num]
			c.sets++
		}
	}
	if len(c.block) > 0 { // its values are counted by check
		c.array = columnBlock
		c.sets++
	}
	return c, err
}

// blockValues counts the values of a text_block, refusing one that is not
// UTF-8 or whose last value has no NUL after it.
func blockValues(block []byte) (int, error) {
	if !utf8.Valid(block) {
		return 0, errors.New("text_block is not valid UTF-8")
	}
	if block[len(block)-1] != 0 {
		return 0, errors.New("text_block does not end with a NUL byte: each value, the last too, is followed by one")
	}
	return bytes.Count(block, []byte{0}), nil
}

// scalarText is the most bytes of text a scalar of an array takes.
func scalarText(array protowire.Number, v uint64) int {
	switch array {
	case columnInt64s:
		return len("-9223372036854775808")
	case columnFloat64s:
		return numberText(math.Float64frombits(v), false)
	case columnMicros:
		return len("-292277-01-01 00:00:00.000000+00")
	}
	return 0
}

// arrayWire says whether a TypedColumn field of this number may come with
// this wire type, and whether it is then a packed array of scalars.
func arrayWire(num protowire.Number, typ protowire.Type) (packed, ok bool) {
	switch num {
	case columnNulls, columnInt64s, columnBools, columnMicros:
		return typ == protowire.BytesType, typ == protowire.VarintType || typ == protowire.BytesType
	case columnFloat64s:
		return typ == protowire.BytesType, typ == protowire.Fixed64Type || typ == protowire.BytesType
	case columnTexts, columnBytes, columnJSON, columnBlock:
		return false, typ == protowire.BytesType
	}
	return false, false
}

// eachScalar calls fn with each scalar of a field: one, or a packed array.
func eachScalar(num protowire.Number, packed bool, val []byte, fn func(uint64)) error {
	if !packed {
		if num == columnFloat64s {
			fn(fixed64(val))
		} else {
			fn(varint(val))
		}
		return nil
	}
	if num == columnFloat64s {
		if len(val)%8 != 0 {
			return errors.New("malformed packed double array")
		}
		for ; len(val) > 0; val = val[8:] {
			fn(binary.LittleEndian.Uint64(val))
		}
		return nil
	}
	for len(val) > 0 {
		v, n := protowire.ConsumeVarint(val)
		if n < 0 {
			return fmt.Errorf("malformed packed array: %w", protowire.ParseError(n))
		}
		fn(v)
		val = val[n:]
	}
	return nil
}

// checkColumns refuses columns that are not a table of rows: bad or twice
// given names, not exactly one value array, counts that disagree. It
// returns the number of rows.
func checkColumns(cols []typedColumn) (int, error) {
	seen := make(map[string]bool, len(cols))
	rows := -1
	for i := range cols {
		c := &cols[i]
		field := fmt.Sprintf("typed_rows.columns[%d]", i)
		if err := loader.CheckIdent(c.name); err != nil {
			return 0, &loader.ValidationError{Field: field + ".name", Row: -1, Reason: "typed column name " + err.Error()}
		}
		if seen[c.name] {
			return 0, &loader.ValidationError{Field: field + ".name", Row: -1, Reason: "typed column " + loader.QuoteIdent(c.name) + " appears twice"}
		}
		seen[c.name] = true
		if err := c.check(); err != nil {
			return 0, &loader.ValidationError{Field: field, Row: -1, Reason: fmt.Sprintf("typed column %s: %v", loader.QuoteIdent(c.name), err)}
		}
		if rows >= 0 && c.n != rows {
			return 0, &loader.ValidationError{Field: field, Row: -1, Reason: fmt.Sprintf("typed column %s has %d rows, the columns before it %d", loader.QuoteIdent(c.name), c.n, rows)}
		}
		rows = c.n
	}
	return max(rows, 0), nil
}

// check refuses a column that does not use exactly one value array, or
// whose nulls do not match its values.
func (c *typedColumn) check() error {
	if c.array == columnBlock && c.sets == 1 {
		n, err := blockValues(c.block)
		if err != nil {
			return err
		}
		c.n = n
	}
	switch {
	case c.sets > 1:
		return fmt.Errorf("sets %d value arrays; a column uses exactly one", c.sets)
	case c.array == 0 && !c.nullsAll:
		return errors.New("has no values")
	case c.array == 0:
		c.n = c.nulls
	case c.nulls > 0 && c.nulls != c.n:
		return fmt.Errorf("has %d values but %d nulls entries", c.n, c.nulls)
	}
	return nil
}

// fillTyped decodes the columns' values into a batch, column by column;
// their number texts take text bytes at most.
func fillTyped(cols []typedColumn, rows, offset, text int) (*loader.Batch, error) {
	w := len(cols)
	b := &loader.Batch{Columns: make([]string, w), Values: make([]loader.Field, rows*w), Offset: offset}
	arena := make([]byte, 0, text)
	for j := range cols {
		c := &cols[j]
		b.Columns[j] = c.name
		values := valueIter{msg: c.msg, num: c.array}
		if c.array == columnBlock {
			values = valueIter{num: columnBlock, packed: c.block}
		}
		nulls := valueIter{msg: c.msg, num: columnNulls}
		for i := range c.n {
			if c.nulls > 0 {
				if null, _ := nulls.next(); null != 0 {
					if c.array != 0 {
						values.next()
					}
					b.Values[i*w+j] = loader.Field{Null: true}
					continue
				}
			}
			v, raw := values.next()
			f, err := typedValue(&arena, c.array, v, raw)
			if err != nil {
				return nil, loader.BadValue(offset+i, c.name, "%v", err)
			}
			b.Values[i*w+j] = f
		}
	}
	return b, nil
}

// typedValue is one value of an array as PostgreSQL input text: numbers
// are written into *arena, which their texts share; text points into the
// message.
func typedValue(arena *[]byte, array protowire.Number, v uint64, raw []byte) (loader.Field, error) {
	start := len(*arena)
	switch array {
	case columnInt64s:
		*arena = strconv.AppendInt(*arena, protowire.DecodeZigZag(v), 10)
	case columnFloat64s:
		*arena = pgtext.AppendFloat(*arena, math.Float64frombits(v))
	case columnBools:
		return loader.Field{Text: strconv.FormatBool(v != 0)}, nil
	case columnTexts, columnJSON:
		return loader.Text(bytesText(raw))
	case columnBlock: // split at NUL bytes, so it holds none
		return loader.Field{Text: bytesText(raw)}, nil
	case columnBytes:
		return loader.Field{Text: pgtext.Bytea(raw)}, nil
	case columnMicros:
		return loader.Field{Text: pgtext.TimestampMicros(int64(v))}, nil
	}
	return loader.Field{Text: bytesText((*arena)[start:])}, nil
}

// valueIter walks the values of one array of a TypedColumn in wire order,
// through its packed and unpacked occurrences alike, or those of its
// text_block (packed, from the start). readColumn has checked the wire.
type valueIter struct {
	msg    []byte
	num    protowire.Number
	packed []byte // what is left of a packed occurrence
}

// next is the next value: a scalar in v, a string's or bytes' in raw.
func (it *valueIter) next() (v uint64, raw []byte) {
	for len(it.packed) == 0 {
		num, typ, val, rest, _ := nextField(it.msg)
		it.msg = rest
		if num != it.num {
			continue
		}
		packed, ok := arrayWire(num, typ)
		switch {
		case !ok:
		case packed:
			it.packed = val
		case typ == protowire.BytesType:
			return 0, val
		case num == columnFloat64s:
			return fixed64(val), nil
		default:
			return varint(val), nil
		}
	}
	switch it.num {
	case columnFloat64s:
		v, it.packed = binary.LittleEndian.Uint64(it.packed), it.packed[8:]
		return v, nil
	case columnBlock:
		end := bytes.IndexByte(it.packed, 0)
		raw, it.packed = it.packed[:end], it.packed[end+1:]
		return 0, raw
	}
	v, n := protowire.ConsumeVarint(it.packed)
	it.packed = it.packed[n:]
	return v, nil
}
