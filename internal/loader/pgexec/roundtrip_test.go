package pgexec_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testrows"
	"github.com/loadsvc/loadsvc/pgtext"
)

const roundTripTable = `CREATE TABLE rt (
	id int PRIMARY KEY,
	d date, ts timestamp, tstz timestamptz,
	n numeric, n86 numeric(8,6), big bigint, i integer, sm smallint, f8 float8,
	b boolean, jb jsonb, j json, tx text, vc varchar(50), by bytea, uid uuid, arr int[], iv interval,
	dflt text DEFAULT 'the default', dflt_n int DEFAULT 7
)`

// roundTripColumns are the columns of rt the cases fill, one per row.
var roundTripColumns = []string{"d", "ts", "tstz", "n", "n86", "big", "i", "sm", "f8", "b", "jb", "j", "tx", "vc", "by", "uid", "arr", "iv"}

type valueCase struct {
	col  string
	in   *structpb.Value
	want *string // nil: NULL
}

func str(s string) *string { return &s }

func roundTripCases(t *testing.T) []valueCase {
	sv := structpb.NewStringValue
	nv := structpb.NewNumberValue
	bv := structpb.NewBoolValue
	return []valueCase{
		{"d", sv("2024-11-01"), str("2024-11-01")},
		{"d", sv("2024-02-29"), str("2024-02-29")},
		{"ts", sv("2024-11-01 12:34:56.789"), str("2024-11-01 12:34:56.789")},
		{"ts", sv("2024-11-01T12:34:56"), str("2024-11-01 12:34:56")},
		{"tstz", sv("2024-11-01T12:34:56.123456+02:00"), str("2024-11-01 10:34:56.123456+00")},
		{"tstz", sv(pgtext.TimestampMicros(1700000000123456)), str("2023-11-14 22:13:20.123456+00")},
		{"tstz", sv(pgtext.TimestampMicros(-1)), str("1969-12-31 23:59:59.999999+00")},
		{"n", nv(1e20), str("100000000000000000000")},
		{"n", nv(-0.5), str("-0.5")},
		{"n", nv(0.1), str("0.1")},
		{"n", nv(1e-7), str("0.0000001")},
		{"n", nv(math.NaN()), str("NaN")},
		{"n", sv("12345678901234567890.123456789"), str("12345678901234567890.123456789")},
		{"n86", nv(12.345678), str("12.345678")},
		{"n86", sv("1.5"), str("1.500000")},
		{"n86", nv(-0.5), str("-0.500000")},
		{"big", sv("9007199254740993"), str("9007199254740993")},
		{"big", sv("-9223372036854775808"), str("-9223372036854775808")},
		{"big", nv(9007199254740992), str("9007199254740992")},
		{"big", nv(1e18), str("1000000000000000000")},
		{"i", nv(42), str("42")},
		{"i", nv(-7), str("-7")},
		{"i", nv(1e9), str("1000000000")},
		{"sm", nv(12), str("12")},
		{"f8", nv(1e20), str("1e+20")},
		{"f8", nv(0.1), str("0.1")},
		{"f8", nv(math.Inf(-1)), str("-Infinity")},
		{"b", bv(true), str("true")},
		{"b", bv(false), str("false")},
		{"b", sv("t"), str("true")},
		{"jb", testrows.StructValue(t, map[string]any{"b": 1, "a": []any{1, 2}, "h": "<&>", "n": 1e20}), str(`{"a": [1, 2], "b": 1, "h": "<&>", "n": 100000000000000000000}`)},
		{"jb", testrows.StructValue(t, []any{1, "x", nil, true}), str(`[1, "x", null, true]`)},
		{"jb", testrows.StructValue(t, map[string]any{"s": "tab\there \"q\" 年"}), str(`{"s": "tab\there \"q\" 年"}`)},
		{"j", testrows.StructValue(t, map[string]any{"z": 1, "a": "x"}), str(`{"a":"x","z":1}`)},
		{"j", testrows.StructValue(t, []any{"tab\t", `\`}), str(`["tab\t","\\"]`)},
		{"tx", sv("tab\there"), str("tab\there")},
		{"tx", sv("nl\nx"), str("nl\nx")},
		{"tx", sv("cr\rx"), str("cr\rx")},
		{"tx", sv("crlf\r\n"), str("crlf\r\n")},
		{"tx", sv(`back\slash`), str(`back\slash`)},
		{"tx", sv(`a\tb`), str(`a\tb`)},
		{"tx", sv(`trailing\`), str(`trailing\`)},
		{"tx", sv("quote'"), str("quote'")},
		{"tx", sv(`dq"`), str(`dq"`)},
		{"tx", sv("emoji 😀"), str("emoji 😀")},
		{"tx", sv("中文"), str("中文")},
		{"tx", sv(`\N`), str(`\N`)},
		{"tx", sv(`\.`), str(`\.`)},
		{"tx", sv("\\.\n\\.\n"), str("\\.\n\\.\n")},
		{"tx", sv(""), str("")},
		{"tx", sv(" lead and trail "), str(" lead and trail ")},
		{"tx", sv("\x01\x1f\x7f"), str("\x01\x1f\x7f")},
		{"tx", structpb.NewNullValue(), nil},
		{"vc", sv("年金计划"), str("年金计划")},
		{"by", sv(pgtext.Bytea([]byte{0, 1, 0xfe, 0xff, '\\', '\n'})), str(`\x0001feff5c0a`)},
		{"by", sv(pgtext.Bytea(nil)), str(`\x`)},
		{"uid", sv("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
		{"arr", sv("{1,2,3}"), str("{1,2,3}")},
		{"iv", sv("1 day 02:00:00"), str("1 day 02:00:00")},
	}
}

// TestRoundTrip loads one row per value, each row carrying only its id and
// its value, and reads every value back as text.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, mode := range []loader.Mode{loader.ModeAppend, loader.ModeDeleteInsert} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sql(t, roundTripTable)
			if mode == loader.ModeDeleteInsert {
				// Overwritten by the load: nothing of it may survive.
				b.sql(t, `INSERT INTO rt (id, tx, dflt, dflt_n) VALUES (1, 'old', 'old', 0)`)
			}
			cases := roundTripCases(t)
			rows := make([]*structpb.Struct, len(cases))
			for i, c := range cases {
				rows[i] = &structpb.Struct{Fields: map[string]*structpb.Value{
					"id":  structpb.NewNumberValue(float64(i + 1)),
					c.col: c.in,
				}}
			}
			cols, err := testrows.Columns(rows)
			if err != nil {
				t.Fatal(err)
			}
			batch, err := testrows.FromStructs(cols, rows, 0)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := loader.NewPlan(loader.Config{Table: "rt", Mode: mode, Keys: []string{"id"}, ChunkSize: 7}, batch)
			if err != nil {
				t.Fatal(err)
			}
			res, err := b.exec.Run(ctxT(t), plan.Config, loader.OneBatch(plan.Batch))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Inserted != int64(len(cases)) {
				t.Errorf("Inserted = %d, want %d", res.Inserted, len(cases))
			}
			if n := b.count(t, "SELECT count(*) FROM rt"); n != int64(len(cases)) {
				t.Fatalf("%d rows in rt, want %d", n, len(cases))
			}
			for i, c := range cases {
				got, ok := b.text(t, `SELECT `+loader.QuoteIdent(c.col)+`::text FROM rt WHERE id = $1`, i+1)
				switch {
				case c.want == nil && ok:
					t.Errorf("row %d: %s = %q, want NULL", i+1, c.col, got)
				case c.want != nil && !ok:
					t.Errorf("row %d: %s is NULL, want %q", i+1, c.col, *c.want)
				case c.want != nil && got != *c.want:
					t.Errorf("row %d: %s = %q, want %q (sent %v)", i+1, c.col, got, *c.want, c.in.AsInterface())
				}
				// Every other column the rows carry is NULL in this row.
				var others []string
				for _, col := range roundTripColumns {
					if col != c.col {
						others = append(others, col)
					}
				}
				if n := b.count(t, `SELECT num_nonnulls(`+strings.Join(others, ", ")+`) FROM rt WHERE id = $1`, i+1); n != 0 {
					t.Errorf("row %d: %d columns besides %s are not NULL", i+1, n, c.col)
				}
			}
			// The columns no row carries get their defaults.
			if n := b.count(t, `SELECT count(*) FROM rt WHERE dflt = 'the default' AND dflt_n = 7`); n != int64(len(cases)) {
				t.Errorf("%d rows have the defaults, want all %d", n, len(cases))
			}
			b.assertClean(t)
		})
	}
}

// TestOddNames loads tables and columns whose names are UTF-8, hold a dot
// or a double quote, and reads them back.
func TestOddNames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `
CREATE TABLE "年金计划" ("计划代码" text PRIMARY KEY, "名称" text, "金额" numeric);
CREATE SCHEMA a;
CREATE TABLE a.b (id int PRIMARY KEY, "x.y" text);
CREATE TABLE "a.b" (id int PRIMARY KEY, "x.y" text);
CREATE TABLE "q""t" (id int PRIMARY KEY, "c""d" text, "e f" text);
CREATE SCHEMA "s p";
CREATE TABLE "s p"."年" (id int PRIMARY KEY, v text);
CREATE TABLE public."年" (id int PRIMARY KEY, v text);
INSERT INTO "年金计划" VALUES ('P1', '旧', 1);`)
	tests := []struct {
		name   string
		cfg    loader.Config
		rows   []row
		table  string // as SQL
		want   string // dump of the table afterwards
		others map[string]string
	}{
		{name: "UTF-8 table and columns",
			cfg:   loader.Config{Table: "年金计划", Keys: []string{"计划代码"}},
			rows:  []row{{"计划代码": "P1", "名称": "养老金", "金额": 1.5}, {"计划代码": "P2", "名称": "企业年金"}},
			table: `"年金计划"`,
			want:  "(P1,养老金,1.5)\n(P2,企业年金,)"},
		{name: "dot is part of the name",
			cfg:    loader.Config{Table: "a.b", Keys: []string{"id"}},
			rows:   []row{{"id": 1, "x.y": "dotted"}},
			table:  `"a.b"`,
			want:   "(1,dotted)",
			others: map[string]string{"a.b": ""}},
		{name: "double quotes in names",
			cfg:   loader.Config{Table: `q"t`, Mode: loader.ModeAppend},
			rows:  []row{{"id": 1, `c"d`: `v"`, "e f": "sp"}},
			table: `"q""t"`,
			want:  `(1,"v""",sp)`},
		{name: "schema with a space",
			cfg:    loader.Config{Schema: "s p", Table: "年", Keys: []string{"id"}},
			rows:   []row{{"id": 1, "v": "in s p"}},
			table:  `"s p"."年"`,
			want:   "(1,\"in s p\")",
			others: map[string]string{`public."年"`: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.load(t, tt.cfg, tt.rows)
			if res.Inserted != int64(len(tt.rows)) {
				t.Errorf("Inserted = %d, want %d", res.Inserted, len(tt.rows))
			}
			if got := dump(t, b.admin, tt.table); got != tt.want {
				t.Errorf("%s holds\n%s\nwant\n%s", tt.table, got, tt.want)
			}
			for table, want := range tt.others {
				if got := dump(t, b.admin, table); got != want {
					t.Errorf("%s holds %q, want %q: the load hit the wrong table", table, got, want)
				}
			}
		})
	}
	b.assertClean(t)
}

// TestCopyEscapes puts every byte from 1 to 127 and some multibyte text
// through the COPY of both modes and reads it back exactly.
func TestCopyEscapes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE esc (id int PRIMARY KEY, v text)`)
	var all strings.Builder
	for c := 1; c < 128; c++ {
		all.WriteByte(byte(c))
	}
	values := []string{all.String(), "\\\\\t\t\n\n\r\r", "\\.", "\\.\n", "\\N", "\\\\N", "年金\t计划\n😀\r"}
	var rows []row
	for i, v := range values {
		rows = append(rows, row{"id": i, "v": v})
	}
	for _, mode := range []loader.Mode{loader.ModeAppend, loader.ModeDeleteInsert} {
		if mode == loader.ModeAppend {
			b.load(t, loader.Config{Table: "esc", Mode: mode, ChunkSize: 2}, rows)
		} else {
			b.load(t, loader.Config{Table: "esc", Mode: mode, Keys: []string{"id"}, ChunkSize: 2}, rows)
		}
		for i, v := range values {
			got, _ := b.text(t, `SELECT v FROM esc WHERE id = $1`, i)
			if got != v {
				t.Errorf("%s: value %d read back as %s, want %s", mode, i, strconv.Quote(got), strconv.Quote(v))
			}
		}
	}
	b.assertClean(t)
}
