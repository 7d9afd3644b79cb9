package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testrows"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// decodeWire is what the handlers do with a message: split it, decode its
// config, then its rows.
func decodeWire(b []byte) (*loader.Batch, error) {
	p, err := (&message{buf: b}).split()
	if err != nil {
		return nil, err
	}
	if _, err := p.decodeConfig(); err != nil {
		return nil, err
	}
	return p.decodeRows(context.Background(), &loader.Config{}, nil, 0, nil)
}

// decodeReference is the old way: unmarshal Structs, then read them.
func decodeReference(b []byte) (*loader.Batch, error) {
	req := &loadsvcv1.LoadRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, err
	}
	switch {
	case len(req.GetRows()) > 0 && len(req.GetTypedRows().GetColumns()) > 0:
		return nil, errors.New("both")
	case len(req.GetTypedRows().GetColumns()) > 0:
		return refTypedBatch(req.GetTypedRows(), 0)
	}
	cols, err := testrows.Columns(req.GetRows())
	if err != nil {
		return nil, err
	}
	b2, err := testrows.FromStructs(cols, req.GetRows(), 0)
	if err != nil {
		return nil, err
	}
	// Refusals the reference never had: a row without any column, and
	// the bounds on columns and values.
	for _, r := range req.GetRows() {
		if len(r.GetFields()) == 0 {
			return nil, errors.New("a row carries no column")
		}
	}
	if len(cols) > loader.MaxColumns || len(cols)*len(req.GetRows()) > loader.MaxCells {
		return nil, errors.New("too many columns or values")
	}
	return b2, nil
}

func sameBatch(a, b *loader.Batch) bool {
	if a.Len() == 0 || b.Len() == 0 {
		return a.Len() == b.Len()
	}
	return reflect.DeepEqual(a.Columns, b.Columns) && reflect.DeepEqual(a.Values, b.Values)
}

func marshalRows(t testing.TB, rows ...map[string]any) []byte {
	t.Helper()
	req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t"}}
	for _, m := range rows {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		req.Rows = append(req.Rows, s)
	}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every JSON value becomes the text the Struct path gave it.
func TestJSONRowValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string // ignored when null
		null bool
		err  string
	}{
		{name: "null", in: nil, null: true},
		{name: "1e20 plain", in: 1e20, want: "100000000000000000000"},
		{name: "-0.5", in: -0.5, want: "-0.5"},
		{name: "1e-7 plain", in: 1e-7, want: "0.0000001"},
		{name: "2^53", in: 9007199254740992.0, want: "9007199254740992"},
		{name: "1.5e300 plain", in: 1.5e300, want: "15" + strings.Repeat("0", 299)},
		{name: "infinity", in: math.Inf(1), want: "Infinity"},
		{name: "big integer as string untouched", in: "9007199254740993", want: "9007199254740993"},
		{name: "empty string is not null", in: "", want: ""},
		{name: "true", in: true, want: "true"},
		{name: "object, keys sorted, no HTML escaping", in: map[string]any{"z": 1, "a": "<&>", "m": []any{1.5, nil}},
			want: `{"a":"<&>","m":[1.5,null],"z":1}`},
		{name: "list", in: []any{1, "x", nil, true, map[string]any{"b": 2, "a": 1}}, want: `[1,"x",null,true,{"a":1,"b":2}]`},
		{name: "empty object", in: map[string]any{}, want: `{}`},
		{name: "unicode in JSON kept", in: map[string]any{"名": "年金 😀"}, want: `{"名":"年金 😀"}`},
		{name: "NUL in text refused", in: "a\x00b", err: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := marshalRows(t, map[string]any{"c": tt.in})
			got, err := decodeWire(b)
			ref, rerr := decodeReference(b)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || rerr == nil {
					t.Fatalf("error %v (reference %v), want one mentioning %q", err, rerr, tt.err)
				}
				return
			}
			if err != nil || rerr != nil {
				t.Fatalf("decode: %v, reference: %v", err, rerr)
			}
			f := got.Row(0)[0]
			if f.Null != tt.null || !tt.null && f.Text != tt.want {
				t.Errorf("got %+v, want %q (null %v)", f, tt.want, tt.null)
			}
			if !sameBatch(got, ref) {
				t.Errorf("wire %+v, reference %+v", got.Values, ref.Values)
			}
		})
	}
}

// Text is held to what proto and PostgreSQL accept, short or long (the
// one-byte length of the common Value, or more): valid UTF-8 passes,
// invalid UTF-8 and a NUL byte anywhere are refused by the scan, as by the
// reference decoder. Written by hand: proto.Marshal refuses bad UTF-8.
func TestJSONTextChecks(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200)
	tests := []struct {
		name, text string
		ok         bool
	}{
		{"ASCII", "abc", true},
		{"ASCII of the longest short length", long, true},
		{"ASCII one byte longer", long + "y", true},
		{"DEL", "a\x7fb", true},
		{"UTF-8", "年金计划", true},
		{"UTF-8 after long ASCII", long + "é", true},
		{"NUL first", "\x00bc", false},
		{"NUL last of the short length", long[1:] + "\x00", false},
		{"NUL in a long text", long + "\x00", false},
		{"invalid byte", "a\xffb", false},
		{"cut-off sequence", "ab\xc3", false},
		{"invalid byte in a long text", long + "\x80", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			value := protowire.AppendBytes(protowire.AppendTag(nil, valueString, protowire.BytesType), []byte(tt.text))
			entry := protowire.AppendBytes(protowire.AppendTag(nil, entryKey, protowire.BytesType), []byte("c"))
			entry = protowire.AppendBytes(protowire.AppendTag(entry, entryValue, protowire.BytesType), value)
			row := protowire.AppendBytes(protowire.AppendTag(nil, structFields, protowire.BytesType), entry)
			b := protowire.AppendBytes(protowire.AppendTag(nil, fieldRows, protowire.BytesType), row)
			p, err := (&message{buf: b}).split()
			if err != nil {
				t.Fatal(err)
			}
			// The scan alone, before any row is decoded, refuses it.
			err = newJSONRows(context.Background(), p.msg, p.rows, 0, nil).scan()
			ref, rerr := decodeReference(b)
			if (err == nil) != tt.ok || (rerr == nil) != tt.ok {
				t.Fatalf("scan: %v (reference %v), want ok %v", err, rerr, tt.ok)
			}
			if !tt.ok {
				return
			}
			got, err := decodeWire(b)
			if err != nil || got.Row(0)[0].Text != tt.text || !sameBatch(got, ref) {
				t.Errorf("got %+v (%v), reference %+v, want %q", got, err, ref.Values, tt.text)
			}
		})
	}
}

// The union of keys, sorted; a missing key is NULL; a key given twice in a
// row keeps its last value; unknown fields are skipped.
func TestJSONRowColumns(t *testing.T) {
	t.Parallel()
	// Row 0 gives "a" twice, the second time "x"; an unknown field follows
	// the rows. Written by hand: proto.Marshal never repeats a map key.
	row0 := slices.Concat(entry("b", numberValue(1)), entry("a", stringValue("first")), entry("a", stringValue("x")))
	row1 := entry("c", boolValue(true))
	var b []byte
	for _, r := range [][]byte{row0, row1} {
		b = protowire.AppendTag(b, fieldRows, protowire.BytesType)
		b = protowire.AppendBytes(b, r)
	}
	b = protowire.AppendTag(b, 99, protowire.VarintType)
	b = protowire.AppendVarint(b, 7)
	got, err := decodeWire(b)
	if err != nil {
		t.Fatal(err)
	}
	if ref, err := decodeReference(b); err != nil || !sameBatch(got, ref) {
		t.Errorf("the Struct path gives %+v (%v)", ref, err)
	}
	want := []loader.Field{{Text: "x"}, {Text: "1"}, {Null: true}, {Null: true}, {Null: true}, {Text: "true"}}
	if !reflect.DeepEqual(got.Columns, []string{"a", "b", "c"}) || !reflect.DeepEqual(got.Values, want) {
		t.Errorf("got %q %+v", got.Columns, got.Values)
	}
}

// Rows that give their keys in a different order each, beside rows of a
// dozen more columns, land in their own columns: the column an entry's
// position had in the row before is only a guess.
func TestJSONRowColumnOrder(t *testing.T) {
	t.Parallel()
	var rows []map[string]any
	for i := range 300 {
		r := map[string]any{"a": i, "b": -i}
		if i%3 == 0 {
			for c := range 12 {
				r[fmt.Sprintf("wide_%02d", c)] = fmt.Sprint(i, c)
			}
		}
		rows = append(rows, r)
	}
	msg := marshalRows(t, rows...) // Go marshals a map in random order
	agreesWithReference(t, msg)
	got, err := decodeWire(msg)
	if err != nil {
		t.Fatal(err)
	}
	w := len(got.Columns)
	if got.Columns[0] != "a" || got.Columns[1] != "b" || w != 14 {
		t.Fatalf("columns %q", got.Columns)
	}
	for i := range rows {
		if x, y := got.Values[i*w].Text, got.Values[i*w+1].Text; x != fmt.Sprint(i) || y != fmt.Sprint(-i) {
			t.Fatalf("row %d: a=%s b=%s", i, x, y)
		}
	}
}

// A request is refused before its rows are decoded: too many rows counted on
// the wire, too many columns, too many values, a row without a column.
func TestJSONRowBounds(t *testing.T) {
	t.Parallel()
	wide := map[string]any{}
	for i := range loader.MaxColumns + 1 {
		wide["c"+itoa(i)] = i
	}
	empties := make([]map[string]any, 3)
	for i := range empties {
		empties[i] = map[string]any{}
	}
	manyRows := make([]map[string]any, loader.MaxCells/1000+1)
	for i := range manyRows {
		manyRows[i] = map[string]any{"x": 1}
	}
	manyRows[0] = map[string]any{}
	for i := range 1000 {
		manyRows[0]["k"+itoa(i)] = 1
	}
	// Typed nulls cost a byte a row on the wire, a field a row decoded.
	nulls := make([]bool, loader.MaxCells/2+1)
	for i := range nulls {
		nulls[i] = true
	}
	typed := func(cols ...*loadsvcv1.TypedColumn) []byte {
		b, err := proto.Marshal(&loadsvcv1.LoadStreamRequest{TypedRows: &loadsvcv1.TypedRows{Columns: cols}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		b     []byte
		cfg   loader.Config
		limit bool
		want  string
	}{
		{"rows over the limit", marshalRows(t, empties...), loader.Config{MaxRows: 2, MaxRowsHint: "per request"}, true, "past the limit of 2 rows per request"},
		{"columns", marshalRows(t, wide), loader.Config{}, false, "at most 1600 distinct columns"},
		{"values", marshalRows(t, manyRows...), loader.Config{}, true, "values, more than"},
		{"row without a column", marshalRows(t, map[string]any{"a": 1}, map[string]any{}), loader.Config{}, false, "row 1 carries no column"},
		{"typed rows over the limit", typed(&loadsvcv1.TypedColumn{Name: "a", Texts: []string{"x", "y", "z"}}), loader.Config{MaxRows: 2, MaxRowsHint: "per request"}, true, "past the limit of 2 rows per request"},
		{"typed values", typed(&loadsvcv1.TypedColumn{Name: "a", Nulls: nulls}, &loadsvcv1.TypedColumn{Name: "b", Nulls: nulls}), loader.Config{}, true, "values, more than"},
	}
	for _, tt := range tests {
		p, err := (&message{buf: tt.b}).split()
		if err == nil {
			_, err = p.decodeRows(context.Background(), &tt.cfg, nil, 0, nil)
		}
		var ve *loader.ValidationError
		if !errors.As(err, &ve) || ve.Limit != tt.limit || !strings.Contains(ve.Reason, tt.want) {
			t.Errorf("%s: %v, want a refusal (limit %v) mentioning %q", tt.name, err, tt.limit, tt.want)
		}
	}
}

// The wire decoder and the Struct path give the same batch, or both refuse,
// for any bytes.
func FuzzJSONRows(f *testing.F) {
	f.Add(marshalRows(f, map[string]any{"id": 1, "v": "a"}, map[string]any{"id": 2.5, "w": nil}))
	f.Add(marshalRows(f, map[string]any{"j": map[string]any{"z": []any{1, "x", map[string]any{}}}, "年金": "😀"}))
	f.Add(marshalRows(f, map[string]any{"a": true, "b": false, "c": 1e300, "d": math.Copysign(0, -1)}))
	f.Add(marshalRows(f, map[string]any{"": 1}))
	f.Add([]byte{0x12, 0x00})
	f.Fuzz(agreesWithReference)
}

// agreesWithReference fails unless the wire decoder and the reference give
// the same batch for b, or both refuse it. The decoder refuses more than
// proto only for a non-canonical encoding or values nested deeper than
// loader.MaxNesting, never less; and its work stays linear in len(b).
func agreesWithReference(t *testing.T, b []byte) {
	got, err := decodeWire(b)
	ref, rerr := decodeReference(b)
	switch {
	case err == nil && rerr != nil:
		t.Fatalf("the wire decoder accepts what the reference refuses: %v", rerr)
	case err != nil && rerr == nil && !stricter(err):
		t.Fatalf("wire error %v, the reference accepts", err)
	case err == nil && !sameBatch(got, ref):
		t.Fatalf("wire %q %+v\nreference %q %+v", got.Columns, got.Values, ref.Columns, ref.Values)
	}
	boundedWork(t, b)
}

// stricter tells the refusals the decoder makes beyond proto's.
func stricter(err error) bool {
	s := err.Error()
	return strings.Contains(s, errNonCanonical.Error()) || strings.Contains(s, "nests deeper than")
}

// boundedWork holds the JSON decoder's two walks over b to work linear in
// its bytes, and what fill writes to the bytes scan counted.
func boundedWork(t *testing.T, b []byte) {
	p, err := (&message{buf: b}).split()
	if err != nil || p.rows == 0 {
		return
	}
	j := newJSONRows(context.Background(), p.msg, p.rows, 0, nil)
	if j.scan() != nil {
		return
	}
	if _, err := j.fill(); err != nil {
		t.Fatalf("fill after a clean scan: %v", err)
	}
	if j.work > 6*len(b)+64 {
		t.Fatalf("%d units of work for %d bytes", j.work, len(b))
	}
	if cap(j.arena) != j.text {
		t.Fatalf("fill wrote %d bytes of text, scan counted at most %d", len(j.arena), j.text)
	}
}

// entry is one Struct map entry on the wire.
func entry(key string, value []byte) []byte {
	e := protowire.AppendTag(nil, entryKey, protowire.BytesType)
	e = protowire.AppendString(e, key)
	e = protowire.AppendTag(e, entryValue, protowire.BytesType)
	e = protowire.AppendBytes(e, value)
	return protowire.AppendBytes(protowire.AppendTag(nil, structFields, protowire.BytesType), e)
}

func stringValue(s string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, valueString, protowire.BytesType), s)
}

func numberValue(f float64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, valueNumber, protowire.Fixed64Type), math.Float64bits(f))
}

func boolValue(v bool) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, valueBool, protowire.VarintType), protowire.EncodeBool(v))
}

// The wire decoder of typed rows and proto.Unmarshal give the same batch,
// or both refuse, for any bytes.
func FuzzTypedRows(f *testing.F) {
	typed := func(cols ...*loadsvcv1.TypedColumn) []byte {
		b, err := proto.Marshal(&loadsvcv1.LoadStreamRequest{TypedRows: &loadsvcv1.TypedRows{Columns: cols}})
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(typed(&loadsvcv1.TypedColumn{Name: "id", Int64S: []int64{1, -2, math.MaxInt64}},
		&loadsvcv1.TypedColumn{Name: "f", Float64S: []float64{0.5, math.Inf(-1), 1e300}, Nulls: []bool{false, true, false}},
		&loadsvcv1.TypedColumn{Name: "b", Bools: []bool{true, false, true}},
		&loadsvcv1.TypedColumn{Name: "t", Texts: []string{"年金", "", "a\tb"}},
		&loadsvcv1.TypedColumn{Name: "by", BytesValues: [][]byte{{0, 1}, nil, {0xff}}},
		&loadsvcv1.TypedColumn{Name: "ts", TimestampMicros: []int64{0, -1, 1 << 50}},
		&loadsvcv1.TypedColumn{Name: "j", JsonValues: []string{`{"a":1}`, "null", "[]"}},
		&loadsvcv1.TypedColumn{Name: "n", Nulls: []bool{true, true, true}}))
	f.Add(typed(&loadsvcv1.TypedColumn{Name: "a", Texts: []string{"x"}, Int64S: []int64{1}}))
	f.Add(typed(&loadsvcv1.TypedColumn{Name: "a", Texts: []string{"x", "y"}}, &loadsvcv1.TypedColumn{Name: "a", Texts: []string{"z", "w"}}))
	f.Add(typed(&loadsvcv1.TypedColumn{Name: "a", Texts: []string{"x\x00"}}))
	f.Add(typed(&loadsvcv1.TypedColumn{Name: "k", TextBlock: []byte("年金\x00\x00a\tb\x00")},
		&loadsvcv1.TypedColumn{Name: "v", TextBlock: []byte("1\x00\x003\x00"), Nulls: []bool{false, true, false}}))
	f.Add(typed(&loadsvcv1.TypedColumn{Name: "a", TextBlock: []byte("x\x00y")}, &loadsvcv1.TypedColumn{Name: "b", TextBlock: []byte{0xff, 0}}))
	f.Add(typed(&loadsvcv1.TypedColumn{Name: "a", TextBlock: []byte("x\x00"), Texts: []string{"y"}}))
	// Unpacked scalars, a name given twice, and a second TypedRows.
	col := protowire.AppendTag(nil, columnName, protowire.BytesType)
	col = protowire.AppendString(col, "x")
	for _, v := range []int64{5, -5} {
		col = protowire.AppendTag(col, columnInt64s, protowire.VarintType)
		col = protowire.AppendVarint(col, protowire.EncodeZigZag(v))
	}
	col = protowire.AppendTag(col, columnName, protowire.BytesType)
	col = protowire.AppendString(col, "y")
	tr := protowire.AppendTag(nil, typedColumns, protowire.BytesType)
	tr = protowire.AppendBytes(tr, col)
	msg := protowire.AppendTag(nil, fieldTypedRows, protowire.BytesType)
	msg = protowire.AppendBytes(msg, tr)
	f.Add(append(msg, typed(&loadsvcv1.TypedColumn{Name: "z", Float64S: []float64{1, 2}})...))
	// text_block given twice: the last one counts, as proto reads it.
	blocks := protowire.AppendString(protowire.AppendTag(nil, columnName, protowire.BytesType), "a")
	for _, b := range []string{"no end", "x\x00"} {
		blocks = protowire.AppendString(protowire.AppendTag(blocks, columnBlock, protowire.BytesType), b)
	}
	tr = protowire.AppendBytes(protowire.AppendTag(nil, typedColumns, protowire.BytesType), blocks)
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, fieldTypedRows, protowire.BytesType), tr))
	f.Fuzz(agreesWithReference)
}
