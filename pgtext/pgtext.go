// Package pgtext writes Go values in PostgreSQL's text input syntax, as
// loadsvc sends them through COPY: plain decimal floats, hex bytea, compact
// JSON and UTC timestamps. It has no dependencies, so that the service, its
// loader and the Go client spell values the same way.
package pgtext

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Float writes f in plain decimal, the shortest form that reads back as f:
// 1e20 is "100000000000000000000", -0.5 is "-0.5". Infinities and NaN use
// PostgreSQL's spellings.
func Float(f float64) string {
	return string(AppendFloat(nil, f))
}

// AppendFloat appends Float(f) to b.
func AppendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// JSON writes v as compact JSON text without HTML escaping, object keys
// sorted, numbers in the shortest form encoding/json gives them.
func JSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// Bytea writes b in PostgreSQL's hex bytea input form, \x followed by two
// hex digits a byte.
func Bytea(b []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 2+2*len(b))
	out[0], out[1] = '\\', 'x'
	for i, c := range b {
		out[2+2*i] = hex[c>>4]
		out[3+2*i] = hex[c&0x0f]
	}
	return string(out)
}

// TimestampMicros writes microseconds since the Unix epoch as an ISO
// timestamp in UTC with an explicit offset, exact to the microsecond.
func TimestampMicros(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.999999") + "+00"
}
