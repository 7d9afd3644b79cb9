package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// loadedLocator reads every row of the file at path as a load would,
// recording positions, and returns the locator of that load.
func loadedLocator(t *testing.T, path string, ro readOptions) *locator {
	t.Helper()
	in, err := openInput(path, "", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	src, err := in.rows(ro)
	if err != nil {
		t.Fatal(err)
	}
	loc := &locator{in: in, ro: ro, src: src, idx: &posIndex{}}
	for _, err := src.Next(); err == nil; _, err = src.Next() {
		loc.idx.add(src.Pos())
	}
	return loc
}

// TestWriteRejects: the rejects file has the source's columns with the
// rows' original values (NULL unquoted-empty, the empty string quoted,
// quotes, commas and newlines quoted), then each row's position, columns,
// SQLSTATEs and reasons, several joined with "; "; an added column whose
// name the source has gets a "_".
func TestWriteRejects(t *testing.T) {
	t.Parallel()
	csv := "k,reason,note\n" +
		"1,ok,fine\n" +
		"2,\"multi\nline\",\"\"\n" + // lines 3-4
		"3,,\"say \"\"hi\"\", ok\"\n" + // line 5
		"4,x,y\n"
	loc := loadedLocator(t, writeFile(t, "in.csv", csv), readOptions{comma: ','})
	rejected := []*loadsvcv1.RowError{
		{Row: 1, Column: "k", Value: "2", Sqlstate: "23514", Message: `new row violates check constraint "k_odd"`},
		{Row: 2, Column: "k", Value: "3", Sqlstate: "22P02", Message: "bad k"},
		{Row: 2, Column: "note", Sqlstate: "22001", Message: "too long"},
	}
	out := filepath.Join(t.TempDir(), "rejects.csv")
	if err := writeRejects(out, loc, rejected); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "k,reason,note,position,column,sqlstate,_reason\n" +
		"2,\"multi\nline\",\"\",line 3,k,23514,\"new row violates check constraint \"\"k_odd\"\"\"\n" +
		"3,,\"say \"\"hi\"\", ok\",line 5; line 5,k; note,22P02; 22001,bad k; too long\n"
	if string(got) != want {
		t.Errorf("rejects file:\n%s\nwant:\n%s", got, want)
	}
	// what loadctl reads back is the original rows
	back, err := csvAll(t, string(got), nil)
	if err != nil {
		t.Fatal(err)
	}
	if back[0]["reason"] != "multi\nline" || back[0]["note"] != "" || back[1]["reason"] != nil || back[1]["note"] != `say "hi", ok` {
		t.Errorf("read back: %v", back)
	}
}

// TestWriteRejectsJSON: for JSON the columns are the sorted union of the
// rejected rows' keys, values as the file has them.
func TestWriteRejectsJSON(t *testing.T) {
	t.Parallel()
	loc := loadedLocator(t, writeFile(t, "in.ndjson", "{\"b\":1}\n{\"b\":1.50,\"a\":{\"x\":[1]}}\n\n{\"c\":true,\"a\":null}\n"), readOptions{})
	out := filepath.Join(t.TempDir(), "rejects.csv")
	if err := writeRejects(out, loc, []*loadsvcv1.RowError{{Row: 1, Column: "b", Message: "m1"}, {Row: 2, Message: "m2"}}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want := "a,b,c,position,column,sqlstate,reason\n" +
		"\"{\"\"x\"\":[1]}\",1.50,,line 2,b,,m1\n" +
		",,true,line 4,,,m2\n"
	if string(got) != want {
		t.Errorf("rejects file:\n%s\nwant:\n%s", got, want)
	}
}

func TestLabelFlags(t *testing.T) {
	t.Parallel()
	l := labelFlags{}
	for _, s := range []string{"run=2024-11", "host=w1", "note=a=b", "empty="} {
		if err := l.Set(s); err != nil {
			t.Fatalf("Set(%q): %v", s, err)
		}
	}
	if want := (labelFlags{"run": "2024-11", "host": "w1", "note": "a=b", "empty": ""}); !reflect.DeepEqual(l, want) {
		t.Errorf("labels %v, want %v", l, want)
	}
	if got := l.String(); got != "empty=,host=w1,note=a=b,run=2024-11" {
		t.Errorf("String: %q", got)
	}
	for _, bad := range []string{"novalue", "=v", "run=again", "empty=x"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) took it", bad)
		}
	}
	long := "目录/" + strings.Repeat("净", 100) + ".csv" // 300+ bytes
	if got := truncateUTF8(long, maxLabelValue); len(got) > maxLabelValue || !validUTF8(got) {
		t.Errorf("truncated to %d bytes, valid %v", len(got), validUTF8(got))
	}
}

func TestParseWhen(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 12, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"7d":                        time.Date(2024, 12, 3, 12, 0, 0, 0, time.UTC),
		"36h":                       time.Date(2024, 12, 9, 0, 0, 0, 0, time.UTC),
		"2024-11-01":                time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC),
		"2024-11-01T09:30:00+08:00": time.Date(2024, 11, 1, 1, 30, 0, 0, time.UTC),
	} {
		if got, err := parseWhen(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "7", "-3d", "yesterday", "2024-13-01"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) took it", bad)
		}
	}
}

func validUTF8(s string) bool { return utf8.ValidString(s) }

// TestBadRowsPrinted: a status carrying a RowErrors detail is printed as
// the status, its details, then one line per bad value or row placed in
// the source, and a note when the service listed only some.
func TestBadRowsPrinted(t *testing.T) {
	t.Parallel()
	loc := loadedLocator(t, writeFile(t, "in.csv", "k,day\n1,2024-11-01\n2,\"2024-\n13-01\"\nx,2024-11-02\n"), readOptions{comma: ','})
	st, err := status.New(codes.InvalidArgument, "load failed: date/time field value out of range").WithDetails(
		&errdetails.ErrorInfo{Reason: "LOAD_FAILED", Metadata: map[string]string{"sqlstate": "22008"}},
		&loadsvcv1.RowErrors{Truncated: true, Errors: []*loadsvcv1.RowError{
			{Row: 1, Column: "day", Value: "2024-\n13-01", Sqlstate: "22008", Message: "date/time field value out of range"},
			{Row: 2, Column: "k", Value: "x", Sqlstate: "22P02", Message: `invalid input syntax for type integer: "x"`},
			{Row: 2, Sqlstate: "23514", Message: "new row violates check constraint", Constraint: "c"},
			{Row: 9, Sqlstate: "23514", Message: "not in the file"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	printError(&out, loc.withPlaces(st.Err()))
	want := "loadctl: InvalidArgument: load failed: date/time field value out of range\n" +
		"  reason: LOAD_FAILED\n  sqlstate: 22008\n" +
		"line 3, column \"day\", value \"2024-\\n13-01\": date/time field value out of range (SQLSTATE 22008)\n" +
		"line 5, column \"k\", value \"x\": invalid input syntax for type integer: \"x\" (SQLSTATE 22P02)\n" +
		"line 5: new row violates check constraint (SQLSTATE 23514)\n" +
		"row 10 of the load: not in the file (SQLSTATE 23514)\n" +
		"loadctl: the service found more bad rows than the 4 it lists (its LOADSVC_MAX_ROW_ERRORS)\n" +
		"loadctl: some rows are named by their place in the load only: " + loc.in.name + " ends at row 4, before row 10: has it changed since it was loaded?\n"
	if out.String() != want {
		t.Errorf("printed:\n%q\nwant:\n%q", out.String(), want)
	}
}
