package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// field is one length-delimited field on the wire.
func field(num protowire.Number, b []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), b)
}

// listOf is a Value holding a list of the given Values.
func listOf(values ...[]byte) []byte {
	var list []byte
	for _, v := range values {
		list = append(list, field(listValues, v)...)
	}
	return field(valueList, list)
}

// nested is a Value of depth lists, one inside the other, around a number;
// with replaced, each level's list is then replaced by a string, as in the
// attack that overflowed the stack.
func nested(depth int, replaced bool) []byte {
	v := numberValue(1)
	for range depth {
		v = listOf(v)
		if replaced {
			v = append(v, stringValue("x")...)
		}
	}
	return v
}

// oneRow is a message of one row whose column c holds value.
func oneRow(value []byte) []byte { return field(fieldRows, entry("c", value)) }

// Objects and lists nest at most loader.MaxNesting levels in a column,
// counted through values a later field replaces; deeper is refused naming
// the row and the column, however deep.
func TestJSONNesting(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		depth    int
		replaced bool
		ok       bool
	}{
		{loader.MaxNesting, false, true},
		{loader.MaxNesting + 1, false, false},
		{loader.MaxNesting, true, true},
		{loader.MaxNesting + 1, true, false},
		{5000, true, false},
	} {
		b := oneRow(nested(tt.depth, tt.replaced))
		got, err := decodeWire(b)
		if tt.ok {
			if err != nil {
				t.Errorf("depth %d (replaced %v): %v", tt.depth, tt.replaced, err)
			} else if !tt.replaced && !strings.HasPrefix(got.Row(0)[0].Text, strings.Repeat("[", tt.depth)+"1]") {
				t.Errorf("depth %d: %.80q", tt.depth, got.Row(0)[0].Text)
			}
			continue
		}
		var ve *loader.ValidationError
		if !errors.As(err, &ve) || ve.Field != "rows[0].c" || !strings.Contains(ve.Reason, `row 0, column "c": the value nests deeper than 64 levels`) {
			t.Errorf("depth %d (replaced %v): %v, want a refusal of row 0, column c", tt.depth, tt.replaced, err)
		}
	}
}

// A singular message field given twice, which proto would merge, is
// refused as non-canonical: the attacks that made merging quadratic.
func TestNonCanonicalRefused(t *testing.T) {
	t.Parallel()
	config := field(fieldConfig, nil)
	typed := field(fieldTypedRows, field(typedColumns, field(columnName, []byte("a"))))
	twoLists := append(listOf(numberValue(1)), listOf(numberValue(2))...)
	twoValues := append(field(entryKey, []byte("c")), append(field(entryValue, numberValue(1)), field(entryValue, numberValue(2))...)...)
	for name, b := range map[string][]byte{
		"config twice":                 append(append(config, config...), oneRow(numberValue(1))...),
		"typed_rows twice":             append(typed, typed...),
		"list_value twice in a Value":  oneRow(twoLists),
		"a map entry's value twice":    field(fieldRows, field(structFields, twoValues)),
		"list_value twice, nested":     oneRow(listOf(twoLists)),
		"struct_value twice in a list": oneRow(listOf(append(field(valueStruct, nil), field(valueStruct, nil)...))),
	} {
		_, err := decodeWire(b)
		if err == nil || !strings.Contains(err.Error(), "non-canonical") {
			t.Errorf("%s: %v, want a refusal as non-canonical", name, err)
		}
	}
}

// A request whose client has gone stops its decoding at the next look at
// its context, within checkEvery units of work (a fraction of a
// millisecond), not at the end of the message.
func TestDecodeStopsWhenTheClientHasGone(t *testing.T) {
	t.Parallel()
	var b []byte
	for range 100000 {
		b = append(b, oneRow(stringValue("a value of some length"))...)
	}
	p, err := (&message{buf: b}).split()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	j := newJSONRows(ctx, p.msg, p.rows, 0, nil)
	if err := j.scan(); !errors.Is(err, context.Canceled) || j.work > checkEvery+16 {
		t.Errorf("scan: %v after %d units of work, want context.Canceled within %d", err, j.work, checkEvery)
	}
	if _, err := p.decodeRows(ctx, &loader.Config{}, nil, 0, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("decodeRows: %v, want context.Canceled", err)
	}
}

// Typed rows are held to the column limit too, counted before a column is
// read.
func TestTypedColumnLimit(t *testing.T) {
	t.Parallel()
	var tr []byte
	for range loader.MaxColumns + 1 {
		tr = append(tr, field(typedColumns, nil)...)
	}
	_, err := decodeWire(field(fieldTypedRows, tr))
	if err == nil || !strings.Contains(err.Error(), "at most 1600 distinct columns") {
		t.Errorf("%v, want a refusal naming the 1,600-column limit", err)
	}
}
