package client_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/loadsvc/loadsvc/client"
	"math"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// TestTypedRoundTrip loads every Go kind into a table and reads it back as
// PostgreSQL's text, exactly.
func TestTypedRoundTrip(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.exec(t, `CREATE TABLE kinds (
		id int PRIMARY KEY,
		i bigint, i8 smallint, i16 smallint, i32 integer, i64 bigint,
		u bigint, u8 smallint, u16 integer, u32 bigint, u64 bigint, ubig numeric,
		f32 real, f64 double precision, fnum numeric, b boolean, s text, num numeric, ip inet,
		by bytea, ts timestamptz, tsl timestamp, d date, js jsonb, m jsonb, l json,
		named text, ptr integer, nullint bigint, mixed text, tmix timestamptz, bmix bytea, fmix numeric, nul text)`)
	ts := time.Date(2024, 11, 1, 12, 30, 45, 123456789, time.FixedZone("CST", 8*3600))
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	five := 5
	rows := []client.Row{{
		"id": 0, "i": -7, "i8": int8(math.MinInt8), "i16": int16(math.MaxInt16), "i32": int32(math.MinInt32), "i64": int64(math.MinInt64),
		"u": uint(7), "u8": uint8(255), "u16": uint16(65535), "u32": uint32(math.MaxUint32), "u64": uint64(math.MaxInt64), "ubig": uint64(math.MaxUint64),
		"f32": float32(0.1), "f64": 123.456, "fnum": 1e20, "b": true, "s": "tab\there\nnew line \\ backslash 年金 ✓ 'q' \"dq\"",
		"num": json.Number("12345678901234567890.123456789"), "ip": net.ParseIP("192.0.2.1"),
		"by": all, "ts": ts, "tsl": ts, "d": "2024-11-01", "js": json.RawMessage(`{"b": [1, 2.5], "a": null}`),
		"m": map[string]any{"z": 1, "a": "x<y>&"}, "l": []any{1, "two", true, nil},
		"named": code("P001"), "ptr": &five, "nullint": sql.NullInt64{Int64: 9, Valid: true},
		"mixed": 42, "tmix": ts, "bmix": []byte{1, 2}, "fmix": 1.5, "nul": nil,
	}, {
		"id": 1, "i": math.MaxInt64, "i8": int8(math.MaxInt8), "i16": int16(math.MinInt16), "i32": int32(math.MaxInt32), "i64": nil,
		"u": uint(0), "u64": uint64(0), "ubig": uint64(5), "f32": float32(math.Inf(1)), "f64": math.Inf(-1), "fnum": -0.000001,
		"b": false, "s": "", "num": json.Number("-0.5"), "by": []byte{}, "ts": time.Unix(0, 0), "tsl": time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		"js": json.RawMessage(`[]`), "m": map[string]any{}, "l": []any{},
		"named": code(""), "ptr": (*int)(nil), "nullint": sql.NullInt64{},
		"mixed": "forty-two", "tmix": "2024-01-01 00:00:00+00", "bmix": `\x0304`, "fmix": 2, "nul": nil,
	}, {
		"id": 2, "mixed": true,
	}}
	resp, err := e.dial(t, client.Options{}).Load(ctxTimeout(t, 30*time.Second),
		&loadsvcv1.LoadConfig{Table: "kinds", Mode: loadsvcv1.Mode_MODE_APPEND}, rows)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetInserted() != 3 {
		t.Fatalf("inserted %d, want 3", resp.GetInserted())
	}
	var allHex strings.Builder
	allHex.WriteString(`\x`)
	for _, c := range all {
		fmt.Fprintf(&allHex, "%02x", c)
	}
	want := map[string][]string{
		"i":       {"-7", "9223372036854775807", "NULL"},
		"i8":      {"-128", "127", "NULL"},
		"i16":     {"32767", "-32768", "NULL"},
		"i32":     {"-2147483648", "2147483647", "NULL"},
		"i64":     {"-9223372036854775808", "NULL", "NULL"},
		"u":       {"7", "0", "NULL"},
		"u8":      {"255", "NULL", "NULL"},
		"u16":     {"65535", "NULL", "NULL"},
		"u32":     {"4294967295", "NULL", "NULL"},
		"u64":     {"9223372036854775807", "0", "NULL"},
		"ubig":    {"18446744073709551615", "5", "NULL"},
		"f32":     {"0.1", "Infinity", "NULL"},
		"f64":     {"123.456", "-Infinity", "NULL"},
		"fnum":    {"100000000000000000000", "-0.000001", "NULL"},
		"b":       {"true", "false", "NULL"},
		"s":       {"tab\there\nnew line \\ backslash 年金 ✓ 'q' \"dq\"", "", "NULL"},
		"num":     {"12345678901234567890.123456789", "-0.5", "NULL"},
		"ip":      {"192.0.2.1/32", "NULL", "NULL"},
		"by":      {allHex.String(), `\x`, "NULL"},
		"ts":      {"2024-11-01 04:30:45.123456+00", "1970-01-01 00:00:00+00", "NULL"},
		"tsl":     {"2024-11-01 04:30:45.123456", "1999-12-31 23:59:59.999999", "NULL"},
		"d":       {"2024-11-01", "NULL", "NULL"},
		"js":      {`{"a": null, "b": [1, 2.5]}`, `[]`, "NULL"},
		"m":       {`{"a": "x<y>&", "z": 1}`, `{}`, "NULL"},
		"l":       {`[1,"two",true,null]`, `[]`, "NULL"},
		"named":   {"P001", "", "NULL"},
		"ptr":     {"5", "NULL", "NULL"},
		"nullint": {"9", "NULL", "NULL"},
		"mixed":   {"42", "forty-two", "true"},
		"tmix":    {"2024-11-01 04:30:45.123456+00", "2024-01-01 00:00:00+00", "NULL"},
		"bmix":    {`\x0102`, `\x0304`, "NULL"},
		"fmix":    {"1.5", "2", "NULL"},
		"nul":     {"NULL", "NULL", "NULL"},
	}
	for col, w := range want {
		got := e.texts(t, "SELECT "+col+"::text FROM kinds ORDER BY id")
		if !reflect.DeepEqual(got, w) {
			t.Errorf("column %s: got %q, want %q", col, got, w)
		}
	}
}

type code string
