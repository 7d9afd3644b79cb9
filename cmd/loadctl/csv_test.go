package main

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/loadsvc/loadsvc/client"
)

// records reads every record of s.
func records(t *testing.T, s string) ([][]csvField, error) {
	t.Helper()
	rd := newCSVReader(strings.NewReader(s), ',')
	var out [][]csvField
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

func u(s string) csvField { return csvField{Text: s} }
func q(s string) csvField { return csvField{Text: s, Quoted: true} }

func TestCSVReader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     [][]csvField
	}{
		{"plain", "a,b\n1,2\n", [][]csvField{{u("a"), u("b")}, {u("1"), u("2")}}},
		{"no final newline", "a,b\n1,2", [][]csvField{{u("a"), u("b")}, {u("1"), u("2")}}},
		{"crlf", "a,b\r\n1,2\r\n", [][]csvField{{u("a"), u("b")}, {u("1"), u("2")}}},
		{"empty fields", ",\n", [][]csvField{{u(""), u("")}}},
		{"quoted empty", `"",x` + "\n", [][]csvField{{q(""), u("x")}}},
		{"doubled quotes", `"say ""hi""",b` + "\n", [][]csvField{{q(`say "hi"`), u("b")}}},
		{"comma in quotes", `"a,b",c` + "\n", [][]csvField{{q("a,b"), u("c")}}},
		{"newline in quotes", "\"line1\nline2\",x\ny,z\n", [][]csvField{{q("line1\nline2"), u("x")}, {u("y"), u("z")}}},
		{"crlf in quotes kept", "\"a\r\nb\"\r\n", [][]csvField{{q("a\r\nb")}}},
		{"quote mid field", `ab"c,d"e,f` + "\n", [][]csvField{{q("abc,de"), u("f")}}},
		{"lone cr is data", "a\rb,c\n", [][]csvField{{u("a\rb"), u("c")}}},
		{"bom dropped", "\xef\xbb\xbfid,名字\n1,张三\n", [][]csvField{{u("id"), u("名字")}, {u("1"), u("张三")}}},
		{"blank line", "a\n\nb\n", [][]csvField{{u("a")}, {u("")}, {u("b")}}},
		{"quote at end of input", `"x"`, [][]csvField{{q("x")}}},
		{"spaces kept", " a , b \n", [][]csvField{{u(" a "), u(" b ")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := records(t, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestCSVReaderUnterminated(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"a\n\"open", "\"open\n", `"a""`} {
		if _, err := records(t, in); !errors.Is(err, errUnterminated) {
			t.Errorf("%q: got %v, want %v", in, err, errUnterminated)
		}
	}
}

func TestCSVReaderLongAndSmallReads(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	in := "h1,h2\n\"" + long + "\n" + long + "\",\"" + long + "\"\n1,2\n"
	rd := newCSVReader(iotest.OneByteReader(strings.NewReader(in)), ',')
	var got [][]csvField
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	want := [][]csvField{{u("h1"), u("h2")}, {q(long + "\n" + long), q(long)}, {u("1"), u("2")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records differ (%d)", len(got))
	}
	if rd.Line() != 4 {
		t.Fatalf("last record on line %d, want 4", rd.Line())
	}
}

func TestCSVReaderDelimiter(t *testing.T) {
	t.Parallel()
	rd := newCSVReader(strings.NewReader("a\tb,c\t\"d\te\"\n"), '\t')
	rec, err := rd.Read()
	if err != nil {
		t.Fatal(err)
	}
	if want := []csvField{u("a"), u("b,c"), q("d\te")}; !reflect.DeepEqual(rec, want) {
		t.Fatalf("got %+v, want %+v", rec, want)
	}
}

// csvAll reads every row through csvRows.
func csvAll(t *testing.T, in string, null *string) ([]client.Row, error) {
	t.Helper()
	rows, err := newCSVRows(strings.NewReader(in), "in.csv", ',', null)
	if err != nil {
		return nil, err
	}
	var out []client.Row
	for {
		r, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

func TestCSVRowsNulls(t *testing.T) {
	t.Parallel()
	in := "a,b,c\n,\"\",x\nNA,\"NA\",\n"
	got, err := csvAll(t, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []client.Row{{"a": nil, "b": "", "c": "x"}, {"a": "NA", "b": "NA", "c": nil}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("default null: got %v, want %v", got, want)
	}
	marker := "NA"
	got, err = csvAll(t, in, &marker)
	if err != nil {
		t.Fatal(err)
	}
	want = []client.Row{{"a": "", "b": "", "c": "x"}, {"a": nil, "b": "NA", "c": ""}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("--null NA: got %v, want %v", got, want)
	}
}

func TestCSVRowsBlankLines(t *testing.T) {
	t.Parallel()
	got, err := csvAll(t, "a,b\n1,2\n\n3,4\n\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []client.Row{{"a": "1", "b": "2"}, {"a": "3", "b": "4"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	got, err = csvAll(t, "a\n1\n\n2\n", nil) // one column: an empty line is NULL, as in COPY
	if err != nil {
		t.Fatal(err)
	}
	if want := []client.Row{{"a": "1"}, {"a": nil}, {"a": "2"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCSVRowsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "in.csv: empty input: a CSV file needs a header line naming the columns"},
		{"a,,b\n", "in.csv:1: header: column 2 has no name"},
		{"a,b,a\n", `in.csv:1: header: column "a" appears twice`},
		{"a,b\n1,2\n\"x\ny\",2,3\n", "in.csv:3: 3 fields, the header has 2"},
		{"a,b\n1\n", "in.csv:2: 1 field, the header has 2"},
		{"a,b\n1,\"2\n", "in.csv:2: unterminated CSV quoted field"},
	} {
		_, err := csvAll(t, tc.in, nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.want)
		}
	}
}
