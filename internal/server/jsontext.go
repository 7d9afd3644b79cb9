package server

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// objectEntry is one key and value of a JSON object being written.
type objectEntry struct{ key, value []byte }

// appendJSON appends an object or list Value, at depth in its column, as
// compact JSON text: what encoding/json writes for the Go value structpb's
// AsInterface gives it (keys sorted, the last of a key given twice, numbers
// in JSON's shortest form, NaN and the infinities as the strings "NaN",
// "Infinity" and "-Infinity", no HTML escaping), written straight from the
// wire. scan has checked the value and counted its text.
func (j *jsonRows) appendJSON(dst []byte, kind protowire.Number, raw []byte, depth int) ([]byte, error) {
	if kind == valueList {
		dst = append(dst, '[')
		first := true
		err := eachField(raw, func(num protowire.Number, typ protowire.Type, b []byte) error {
			if num != listValues || typ != protowire.BytesType {
				return nil
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			var err error
			dst, err = j.appendValue(dst, b, depth)
			return err
		})
		return append(dst, ']'), err
	}
	// The entries of one object are sorted in a scratch of its depth, which
	// its siblings reuse and its children do not touch.
	entries := j.scratch[depth][:0]
	err := j.eachEntry(raw, func(_ int, key, value []byte) error {
		entries = append(entries, objectEntry{key, value})
		return nil
	})
	j.scratch[depth] = entries
	if err != nil {
		return dst, err
	}
	slices.SortStableFunc(entries, func(a, b objectEntry) int { return bytes.Compare(a.key, b.key) })
	dst = append(dst, '{')
	first := true
	for i, e := range entries {
		if i+1 < len(entries) && bytes.Equal(e.key, entries[i+1].key) {
			continue // a later entry of the key wins
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, e.key)
		dst = append(dst, ':')
		if dst, err = j.appendValue(dst, e.value, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendValue appends one Value inside an object or list at depth.
func (j *jsonRows) appendValue(dst, v []byte, depth int) ([]byte, error) {
	kind, raw, err := j.kind(v, depth, false)
	if err != nil {
		return dst, err
	}
	switch kind {
	case valueNumber:
		return appendJSONNumber(dst, math.Float64frombits(fixed64(raw))), nil
	case valueString:
		return appendJSONString(dst, raw), nil
	case valueBool:
		return strconv.AppendBool(dst, varint(raw) != 0), nil
	case valueStruct, valueList:
		return j.appendJSON(dst, kind, raw, depth+1)
	}
	return append(dst, "null"...), nil
}

// appendJSONNumber writes f as encoding/json does (ES6's number to string),
// and NaN and the infinities as structpb's AsInterface spells them.
func appendJSONNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // e-07 is written e-7
		dst = dst[:n-1]
	}
	return dst
}

// appendJSONString writes s, valid UTF-8, as a JSON string the way
// encoding/json does without HTML escaping.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
