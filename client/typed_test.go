package client

import (
	"database/sql"
	"encoding/json"
	"math"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// encodeRows is the TypedRows Load would send for rows.
func encodeRows(t *testing.T, rows ...Row) *loadsvcv1.TypedRows {
	t.Helper()
	req, err := loadRequest(&loadsvcv1.LoadConfig{}, rows)
	if err != nil {
		t.Fatal(err)
	}
	return req.GetTypedRows()
}

func TestTypedColumnKinds(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 11, 1, 12, 30, 45, 123456789, time.FixedZone("CST", 8*3600))
	got := encodeRows(t,
		Row{"i": 1, "f": 1.5, "b": true, "s": "x", "by": []byte{1}, "ts": ts, "js": json.RawMessage(`{"a":1}`), "n": nil},
		Row{"i": int8(-2), "f": float32(0.5), "b": nil, "s": json.Number("2.50"), "by": []byte{}, "ts": nil, "js": []any{1}, "u": uint64(7)},
	)
	want := &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{
		{Name: "b", Nulls: []bool{false, true}, Bools: []bool{true, false}},
		{Name: "by", BytesValues: [][]byte{{1}, {}}},
		{Name: "f", Float64S: []float64{1.5, 0.5}},
		{Name: "i", Int64S: []int64{1, -2}},
		{Name: "js", JsonValues: []string{`{"a":1}`, `[1]`}},
		{Name: "n", Nulls: []bool{true, true}},
		{Name: "s", Texts: []string{"x", "2.50"}},
		{Name: "ts", Nulls: []bool{false, true}, TimestampMicros: []int64{ts.UnixMicro(), 0}},
		{Name: "u", Nulls: []bool{true, false}, Int64S: []int64{0, 7}},
	}}
	if !proto.Equal(got, want) {
		t.Fatalf("got\n%v\nwant\n%v", got, want)
	}
}

func TestTypedMixedKindsBecomeTexts(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 11, 1, 12, 30, 45, 123456789, time.FixedZone("CST", 8*3600))
	got := encodeRows(t,
		Row{"a": nil, "b": ts, "c": []byte{0, 0xab}, "d": math.Inf(-1), "e": uint64(1), "f": map[string]any{"k": "<v>"}},
		Row{"a": 7, "b": "now", "c": "\\x01", "d": 2, "e": uint64(math.MaxUint64), "f": "plain"},
		Row{"a": false, "b": nil, "c": nil, "d": 1e21, "e": nil, "f": nil},
	)
	want := &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{
		{Name: "a", Nulls: []bool{true, false, false}, Texts: []string{"", "7", "false"}},
		{Name: "b", Nulls: []bool{false, false, true}, Texts: []string{"2024-11-01 04:30:45.123456+00", "now", ""}},
		{Name: "c", Nulls: []bool{false, false, true}, Texts: []string{`\x00ab`, `\x01`, ""}},
		{Name: "d", Texts: []string{"-Infinity", "2", "1000000000000000000000"}},
		{Name: "e", Nulls: []bool{false, false, true}, Texts: []string{"1", "18446744073709551615", ""}},
		{Name: "f", Nulls: []bool{false, false, true}, Texts: []string{`{"k":"<v>"}`, "plain", ""}},
	}}
	if !proto.Equal(got, want) {
		t.Fatalf("got\n%v\nwant\n%v", got, want)
	}
}

type code string

type celsius float32

func TestTypedOtherGoTypes(t *testing.T) {
	t.Parallel()
	five := 5
	var nilPtr *int
	got := encodeRows(t, Row{
		"named": code("P001"), "float": celsius(1.5), "ptr": &five, "nilptr": nilPtr,
		"valuer": sql.NullInt64{Int64: 9, Valid: true}, "nullvaluer": sql.NullString{},
		"stringer": net.ParseIP("192.0.2.1"), "strs": []string{"a"}, "struct": struct{ A int }{1},
		"dur": 2 * time.Second,
	})
	want := map[string]*loadsvcv1.TypedColumn{
		"named":      {Texts: []string{"P001"}},
		"float":      {Float64S: []float64{1.5}},
		"ptr":        {Int64S: []int64{5}},
		"nilptr":     {Nulls: []bool{true}},
		"valuer":     {Int64S: []int64{9}},
		"nullvaluer": {Nulls: []bool{true}},
		"stringer":   {Texts: []string{"192.0.2.1"}},
		"strs":       {JsonValues: []string{`["a"]`}},
		"struct":     {JsonValues: []string{`{"A":1}`}},
		"dur":        {Texts: []string{"2s"}},
	}
	for _, c := range got.GetColumns() {
		w := want[c.GetName()]
		w.Name = c.GetName()
		if !proto.Equal(c, w) {
			t.Errorf("column %s: got %v, want %v", c.GetName(), c, w)
		}
	}
}

func TestTypedBadValueLeavesBatchAsItWas(t *testing.T) {
	t.Parallel()
	b := newBatch()
	if err := b.add(Row{"a": 1}, 0); err != nil {
		t.Fatal(err)
	}
	err := b.add(Row{"a": 2, "b": make(chan int)}, 1)
	e := wantError(t, err, codes.InvalidArgument)
	if e.Field != "rows[1].b" || e.Row != 1 || !strings.Contains(e.Message, "chan int") {
		t.Fatalf("got field %q row %d message %q", e.Field, e.Row, e.Message)
	}
	if b.rows != 1 || len(b.cols) != 1 || b.cols[0].n != 1 {
		t.Fatalf("a refused row changed the batch: %d rows, %d columns", b.rows, len(b.cols))
	}
}

func TestTypedFixedColumns(t *testing.T) {
	t.Parallel()
	b := newBatch()
	for i, r := range []Row{{"id": 1, "v": "a"}, {"id": 2}} {
		if err := b.add(r, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	b.reset()
	b.fixed = true
	err := b.add(Row{"id": 3, "z": 1, "w": 2}, 2)
	e := wantError(t, err, codes.InvalidArgument)
	if e.Field != "rows[2].w" || e.Row != 2 || !strings.Contains(e.Message, `adds column "w", "z"`) || !strings.Contains(e.Message, `("id", "v")`) {
		t.Fatalf("got field %q row %d message %q", e.Field, e.Row, e.Message)
	}
	if err := b.add(Row{"id": 3}, 2); err != nil {
		t.Fatal(err)
	}
	want := &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{
		{Name: "id", Int64S: []int64{3}},
		{Name: "v", Nulls: []bool{true}},
	}}
	if got := b.message(); !proto.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestTypedBatchReusesMemory checks that a batch, once grown, builds the
// next batches of the same shape in the same arrays.
func TestTypedBatchReusesMemory(t *testing.T) {
	t.Parallel()
	b := newBatch()
	rows := make([]Row, 1000)
	for i := range rows {
		rows[i] = Row{"id": i, "v": "x", "f": 1.5, "by": []byte("abc"), "n": nil}
	}
	// arrays is the address of every array the batch's message uses.
	arrays := func() []uintptr {
		for i, r := range rows {
			if err := b.add(r, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		var out []uintptr
		for _, c := range b.message().GetColumns() {
			for _, s := range []any{c.Nulls, c.Int64S, c.Float64S, c.Texts, c.BytesValues} {
				if v := reflect.ValueOf(s); v.Len() > 0 {
					out = append(out, v.Pointer())
				}
			}
		}
		out = append(out, reflect.ValueOf(b.arena).Pointer())
		b.reset()
		return out
	}
	first := arrays()
	for range 3 {
		if again := arrays(); !reflect.DeepEqual(again, first) {
			t.Fatalf("a batch of the same shape allocated new arrays: %v, first %v", again, first)
		}
	}
}
