package loader_test

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testrows"
	"github.com/loadsvc/loadsvc/pgtext"
)

func TestEncodeValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   *structpb.Value
		want string // ignored when null
		null bool
		err  string
	}{
		{name: "null", in: structpb.NewNullValue(), null: true},
		{name: "nil value", in: nil, null: true},
		{name: "empty value", in: &structpb.Value{}, null: true},
		{name: "1e20 plain", in: structpb.NewNumberValue(1e20), want: "100000000000000000000"},
		{name: "-0.5", in: structpb.NewNumberValue(-0.5), want: "-0.5"},
		{name: "0.1", in: structpb.NewNumberValue(0.1), want: "0.1"},
		{name: "1e-7 plain", in: structpb.NewNumberValue(1e-7), want: "0.0000001"},
		{name: "integer", in: structpb.NewNumberValue(42), want: "42"},
		{name: "negative integer", in: structpb.NewNumberValue(-7), want: "-7"},
		{name: "2^53", in: structpb.NewNumberValue(9007199254740992), want: "9007199254740992"},
		{name: "1.5e300 plain", in: structpb.NewNumberValue(1.5e300), want: "15" + strings.Repeat("0", 299)},
		{name: "big integer as string untouched", in: structpb.NewStringValue("9007199254740993"), want: "9007199254740993"},
		{name: "string", in: structpb.NewStringValue("2024-11-01"), want: "2024-11-01"},
		{name: "empty string is not null", in: structpb.NewStringValue(""), want: ""},
		{name: "true", in: structpb.NewBoolValue(true), want: "true"},
		{name: "false", in: structpb.NewBoolValue(false), want: "false"},
		{name: "object, keys sorted, no HTML escaping", in: testrows.StructValue(t, map[string]any{"z": 1, "a": "<&>", "m": []any{1.5, nil}}),
			want: `{"a":"<&>","m":[1.5,null],"z":1}`},
		{name: "list", in: testrows.StructValue(t, []any{1, "x", nil, true, map[string]any{"b": 2, "a": 1}}),
			want: `[1,"x",null,true,{"a":1,"b":2}]`},
		{name: "empty object", in: testrows.StructValue(t, map[string]any{}), want: `{}`},
		{name: "empty list", in: testrows.StructValue(t, []any{}), want: `[]`},
		{name: "unicode in JSON kept", in: testrows.StructValue(t, map[string]any{"名": "年金 😀"}), want: `{"名":"年金 😀"}`},
		{name: "NUL in text refused", in: structpb.NewStringValue("a\x00b"), err: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := testrows.Value(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("EncodeValue = %+v, %v; want an error about %s", f, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("EncodeValue: %v", err)
			}
			if f.Null != tt.null || !tt.null && f.Text != tt.want {
				t.Errorf("EncodeValue = %+v, want Text=%q Null=%v", f, tt.want, tt.null)
			}
		})
	}
}

func TestFormatFloat(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   float64
		want string
	}{
		{1e20, "100000000000000000000"},
		{-0.5, "-0.5"},
		{0.1, "0.1"},
		{1e-7, "0.0000001"},
		{0, "0"},
		{123456.789, "123456.789"},
		{1e21, "1000000000000000000000"},
		{5e-324, "0." + strings.Repeat("0", 323) + "5"},
		// A float64 cannot hold 2^53+1: such integers must travel as strings.
		{9007199254740993, "9007199254740992"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
		{math.NaN(), "NaN"},
	} {
		got := pgtext.Float(tt.in)
		if got != tt.want {
			t.Errorf("FormatFloat(%g) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.ContainsAny(got, "eE+") && !strings.Contains(got, "Infinity") {
			t.Errorf("FormatFloat(%g) = %q has an exponent", tt.in, got)
		}
	}
}

func TestFormatJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   any
		want string
	}{
		{map[string]any{"b": 1, "a": map[string]any{"d": 1, "c": 2}}, `{"a":{"c":2,"d":1},"b":1}`},
		{map[string]any{"html": "<script>&</script>"}, `{"html":"<script>&</script>"}`},
		{[]any{"tab\tnl\n", `q"`, `\`}, `["tab\tnl\n","q\"","\\"]`},
		{"x", `"x"`},
		{nil, `null`},
		{1e20, `100000000000000000000`},
	} {
		got, err := pgtext.JSON(tt.in)
		if err != nil {
			t.Fatalf("FormatJSON(%v): %v", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("FormatJSON(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if _, err := pgtext.JSON(math.NaN()); err == nil {
		t.Errorf("FormatJSON(NaN) succeeded; JSON has no NaN")
	}
}

func TestFormatBytea(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []byte
		want string
	}{
		{nil, `\x`},
		{[]byte{}, `\x`},
		{[]byte{0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff}, `\x00017f80feff`},
		{[]byte("AZ\\\n"), `\x415a5c0a`},
	} {
		if got := pgtext.Bytea(tt.in); got != tt.want {
			t.Errorf("FormatBytea(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFormatTimestampMicros(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   int64
		want string
	}{
		{0, "1970-01-01 00:00:00+00"},
		{1, "1970-01-01 00:00:00.000001+00"},
		{-1, "1969-12-31 23:59:59.999999+00"},
		{1700000000123456, "2023-11-14 22:13:20.123456+00"},
		{1700000000120000, "2023-11-14 22:13:20.12+00"},
		{253402300799999999, "9999-12-31 23:59:59.999999+00"},
	} {
		if got := pgtext.TimestampMicros(tt.in); got != tt.want {
			t.Errorf("FormatTimestampMicros(%d) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	if f, err := loader.Text("ok\t年"); err != nil || f.Text != "ok\t年" || f.Null {
		t.Errorf("Text = %+v, %v", f, err)
	}
	if _, err := loader.Text("\x00"); err == nil || !strings.Contains(err.Error(), "byte 0") {
		t.Errorf("Text(NUL) error = %v, want one naming byte 0", err)
	}
	if _, err := loader.Text("abc\x00"); err == nil || !strings.Contains(err.Error(), "byte 3") {
		t.Errorf("Text(abc NUL) error = %v, want one naming byte 3", err)
	}
}

func TestCheckIdentAndQuote(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"t", true}, {strings.Repeat("a", 63), true}, {strings.Repeat("a", 64), false},
		{"", false}, {"a\x00", false}, {"\xff", false}, {"年金计划", true}, {`a"b`, true}, {"a.b", true}, {" ", true},
	} {
		if err := loader.CheckIdent(tt.name); (err == nil) != tt.ok {
			t.Errorf("CheckIdent(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	if got := loader.QuoteIdent(`a""b`); got != `"a""""b"` {
		t.Errorf("QuoteIdent = %s", got)
	}
}
