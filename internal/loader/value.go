package loader

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
)

// EncodeValue turns one JSON value into PostgreSQL input text: null is NULL,
// a number is plain decimal (no exponent), a string is itself, a bool is
// true/false, an object or list is its JSON text. Text holding a NUL byte is
// refused: PostgreSQL text cannot store it and truncating would lose data.
func EncodeValue(v *structpb.Value) (Field, error) {
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return Field{Null: true}, nil
	case *structpb.Value_NumberValue:
		return Field{Text: FormatFloat(k.NumberValue)}, nil
	case *structpb.Value_StringValue:
		return Text(k.StringValue)
	case *structpb.Value_BoolValue:
		return Field{Text: strconv.FormatBool(k.BoolValue)}, nil
	case *structpb.Value_StructValue, *structpb.Value_ListValue:
		s, err := FormatJSON(v.AsInterface())
		if err != nil {
			return Field{}, err
		}
		return Text(s)
	default:
		return Field{}, fmt.Errorf("unsupported value kind %T", k)
	}
}

// Text is a text value, refused when it holds a NUL byte.
func Text(s string) (Field, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return Field{}, fmt.Errorf("text holds a NUL byte at byte %d, which PostgreSQL cannot store", i)
	}
	return Field{Text: s}, nil
}

// FormatFloat writes f in plain decimal, the shortest form that reads back
// as f: 1e20 is "100000000000000000000", -0.5 is "-0.5". Infinities and NaN
// use PostgreSQL's spellings.
func FormatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// FormatJSON writes v as compact JSON text without HTML escaping, keys sorted.
// Numbers keep the shortest form encoding/json gives them.
func FormatJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// FormatBytea writes b in PostgreSQL's hex bytea input form.
func FormatBytea(b []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 2+2*len(b))
	out[0], out[1] = '\\', 'x'
	for i, c := range b {
		out[2+2*i] = hex[c>>4]
		out[3+2*i] = hex[c&0x0f]
	}
	return string(out)
}

// FormatTimestampMicros writes microseconds since the Unix epoch as an ISO
// timestamp in UTC with an explicit offset, exact to the microsecond.
func FormatTimestampMicros(us int64) string {
	t := time.UnixMicro(us).UTC()
	return t.Format("2006-01-02 15:04:05.999999") + "+00"
}

func itoa(i int) string { return strconv.Itoa(i) }
