package main

import (
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/xuri/excelize/v2"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// positions reads every row of src and returns each one's Pos.
func positions(t *testing.T, src rowSource) []int64 {
	t.Helper()
	var out []int64
	for {
		_, err := src.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, src.Pos())
	}
}

// TestCSVPositions: a row's position is the line it starts on as an
// editor counts it: the header is line 1, a record with a quoted newline
// starts on its first line, blank lines and CRLF count as lines.
func TestCSVPositions(t *testing.T) {
	t.Parallel()
	in := "\xef\xbb\xbfa,b\r\n" + // line 1, after a BOM
		"1,x\r\n" + // 2
		"2,\"two\r\nlines\"\r\n" + // 3-4
		"\r\n" + // 5, blank: skipped
		"3,\"three\nlines\nhere\"\n" + // 6-8
		"4,y" // 9, no final newline
	src, err := newCSVRows(textReader(strings.NewReader(in)), "in.csv", ',', nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := positions(t, src), []int64{2, 3, 6, 9}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %v, want %v", got, want)
	}
	if got := src.Place(6, "b"); got != "line 6" {
		t.Errorf("Place: %q", got)
	}
}

// TestJSONPositions: NDJSON and JSON-array rows start on the line of their
// opening brace, whatever the read size, blank lines and objects spanning
// lines.
func TestJSONPositions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		in    string
		array bool
		want  []int64
	}{
		{"ndjson", "{\"a\":1}\n{\"a\":2}\n\n\n{\"a\":3}\n", false, []int64{1, 2, 5}},
		{"ndjson spanning lines", "{\"a\":\n1}\n  {\"a\":\"x\\ny\"}\n{\n\"a\": 3\n}", false, []int64{1, 3, 4}},
		{"array", "[\n{\"a\":1},\n\n{\"a\":2}, {\"a\":3},\n  {\n\"a\":4}\n]\n", true, []int64{2, 4, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				src, err := newJSONRows(r, "in", tc.array)
				if err != nil {
					t.Fatal(err)
				}
				if got := positions(t, src); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("lines %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestXLSXPlaces: a row's position is its sheet row (empty rows skipped),
// and Place names the cell of a column by its letter in the sheet, the
// sheet quoted when its name needs it.
func TestXLSXPlaces(t *testing.T) {
	t.Parallel()
	for _, sheet := range []string{"净值", "Nov 2024"} {
		f := excelize.NewFile()
		if err := f.SetSheetName("Sheet1", sheet); err != nil {
			t.Fatal(err)
		}
		// the header on row 2 with a gap in column C; data on 3, 5 and 512
		for cell, row := range map[string][]any{"B2": {"day", nil, "nav"}, "B3": {"2024-11-01", nil, "1"}, "B5": {"x", nil, "2"}, "B512": {"y", nil, "一百万"}} {
			if err := f.SetSheetRow(sheet, cell, &row); err != nil {
				t.Fatal(err)
			}
		}
		book := filepath.Join(t.TempDir(), "b.xlsx")
		if err := f.SaveAs(book); err != nil {
			t.Fatal(err)
		}
		f.Close()
		in, err := openInput(book, "", nil, false)
		if err != nil {
			t.Fatal(err)
		}
		src, err := in.rows(readOptions{xlsxText: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := positions(t, src), []int64{3, 5, 512}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows %v, want %v", sheet, got, want)
		}
		ref := sheetRef(sheet)
		for column, want := range map[string]string{"nav": ref + "!D512", "day": ref + "!B512", "": ref + "!512:512", "absent": ref + "!512:512"} {
			if got := src.Place(512, column); got != want {
				t.Errorf("Place(512, %q) = %q, want %q", column, got, want)
			}
		}
		if got := src.(columnLister).Columns(); !reflect.DeepEqual(got, []string{"day", "nav"}) {
			t.Errorf("columns %q", got)
		}
		in.Close()
	}
	for name, want := range map[string]string{"净值": "净值", "Sheet_1.a": "Sheet_1.a", "Nov 2024": "'Nov 2024'", "it's": "'it''s'", "2024": "'2024'"} {
		if got := sheetRef(name); got != want {
			t.Errorf("sheetRef(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestLocatorRereadsAWorkbook: the rows of a workbook are found again,
// with their values and sheet rows, through the workbook the load read:
// its shared strings are not read, nor held, a second time.
func TestLocatorRereadsAWorkbook(t *testing.T) {
	t.Parallel()
	f := excelize.NewFile()
	for cell, row := range map[string][]any{"A1": {"day", "nav"}, "A2": {"2024-11-01", "1"}, "A3": {"2024-11-02", "2"}, "A7": {"2024-13-01", "一百万"}} {
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	book := filepath.Join(t.TempDir(), "b.xlsx")
	if err := f.SaveAs(book); err != nil {
		t.Fatal(err)
	}
	f.Close()
	loc := loadedLocator(t, book, readOptions{xlsxText: 1 << 20})
	rows, err := loc.find([]*loadsvcv1.RowError{{Row: 2, Column: "nav"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if r := rows[2]; r.pos != 7 || r.row["day"] != "2024-13-01" || r.row["nav"] != "一百万" {
		t.Errorf("row 2 found again: %+v", r)
	}
	again, done, err := loc.in.reread(loc.ro)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if again.(*xlsxRows).wb != loc.src.(*xlsxRows).wb {
		t.Error("the second pass opened the workbook again: its shared strings are held twice")
	}
}

// TestPosIndex: positions come back from the breaks alone, and past
// maxBreaks a row has no known position.
func TestPosIndex(t *testing.T) {
	t.Parallel()
	var p posIndex
	pos := []int64{2, 3, 4, 7, 8, 12, 13, 14, 15}
	for _, v := range pos {
		p.add(v)
	}
	for i, want := range pos {
		if got, ok := p.at(int64(i)); !ok || got != want {
			t.Errorf("at(%d) = %d, %v; want %d", i, got, ok, want)
		}
	}
	if len(p.rows) != 3 {
		t.Errorf("%d breaks kept for %v, want 3", len(p.rows), pos)
	}
	if _, ok := p.at(int64(len(pos))); ok {
		t.Error("a row past the last is known")
	}
	var full posIndex
	for i := range int64(2*maxBreaks + 10) {
		full.add(2 * i) // every row a break
	}
	if got, ok := full.at(maxBreaks - 1); !ok || got != 2*(maxBreaks-1) {
		t.Errorf("the last row kept: %d, %v", got, ok)
	}
	if _, ok := full.at(maxBreaks + 5); ok || len(full.rows) != maxBreaks {
		t.Errorf("past the bound: known %v, %d breaks kept", ok, len(full.rows))
	}
}

// TestLocatorFindsRowsAgain: a second pass over a file finds the rows the
// index could not keep, and the values of the rows asked for.
func TestLocatorFindsRowsAgain(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("k,v\n")
	n := maxBreaks + 100
	for i := range n {
		b.WriteString(strings.Repeat("x", i%2) + "1,\"a\nb\"\n") // every record spans two lines: a break each
	}
	loc := loadedLocator(t, writeFile(t, "many.csv", b.String()), readOptions{comma: ','})
	last := int64(n - 1)
	errs := []*loadsvcv1.RowError{{Row: 1}, {Row: last, Column: "v"}}
	lines, err := loc.describeAll(errs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"line 4: ", "line " + itoa(2+2*last) + `, column "v": `}; lines[0] != want[0] || lines[1] != want[1] {
		t.Errorf("lines %q, want %q", lines, want)
	}
	rows, err := loc.find(errs, true)
	if err != nil {
		t.Fatal(err)
	}
	if r := rows[last]; r.row["k"] != "x1" || r.row["v"] != "a\nb" {
		t.Errorf("row %d found again: %v", last, r)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSessionOrder: a --parallel load's rows, numbered by the service
// writer by writer in the order of their names (part-1, part-10, part-11,
// part-2, …), map back to the file's rows dealt in batches in turn.
func TestSessionOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ writers, batch, rows int }{{1, 3, 10}, {3, 2, 11}, {12, 2, 37}, {4, 5, 3}} {
		s := &sessionOrder{writers: tc.writers, batch: tc.batch, rows: int64(tc.rows)}
		// deal the file's rows as parallelLoad does, then number them as the service does
		byWriter := map[string][]int64{}
		for i := range tc.rows {
			w := writerName(i / tc.batch % tc.writers)
			byWriter[w] = append(byWriter[w], int64(i))
		}
		var names []string
		for w := range byWriter {
			names = append(names, w)
		}
		slices.Sort(names)
		var want []int64
		for _, w := range names {
			want = append(want, byWriter[w]...)
		}
		got := make([]int64, tc.rows)
		for r := range got {
			got[r] = s.fileRow(int64(r))
		}
		if !slices.Equal(got, want) || s.fileRow(int64(tc.rows)) != -1 {
			t.Errorf("%+v: file rows %v, want %v", tc, got, want)
		}
	}
}
