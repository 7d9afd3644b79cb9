package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestClassifyNumFmt(t *testing.T) {
	t.Parallel()
	custom := map[int]string{
		164: `yyyy"年"m"月"d"日"`, 165: "yyyy-mm-dd hh:mm:ss", 166: "0.00", 167: "[h]:mm:ss", 168: `#,##0.00 "days"`,
		169: "mmm", 170: "h:mm AM/PM", 171: "[Red]#,##0;[Blue]-#,##0", 172: `0.00E+00`, 173: "G/通用格式", 174: "yyyy年m月d日",
		175: `[$-409]d-mmm-yy`, 176: `\d0`, 177: "@",
	}
	want := map[int]numFmtClass{
		0: fmtNumber, 2: fmtNumber, 14: fmtDate, 22: fmtDate, 18: fmtTimeOnly, 31: fmtDate, 49: fmtNumber, 58: fmtDate,
		164: fmtDate, 165: fmtDate, 166: fmtNumber, 167: fmtTimeOnly, 168: fmtNumber, 169: fmtDate, 170: fmtTimeOnly,
		171: fmtNumber, 172: fmtNumber, 173: fmtNumber, 174: fmtDate, 175: fmtDate, 176: fmtNumber, 177: fmtNumber,
	}
	for id, w := range want {
		if got := classifyNumFmt(id, custom); got != w {
			t.Errorf("numFmt %d (%q): class %d, want %d", id, custom[id], got, w)
		}
	}
}

func TestUnescapeOOXML(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"a_x000D_b": "a\rb", "_x005F_x": "_x", "_x00zz_": "_x00zz_", "plain": "plain", "年_x0009_金": "年\t金"} {
		if got := unescapeOOXML(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// Excel serial numbers of the test's dates: 2024-11-30 and 2024-12-01, and
// 09:30 as a fraction of a day.
const (
	serial20241130 = 45626.0
	serial20241201 = 45627.0
	serial0930     = 9.5 / 24
)

// writeWorkbook writes the test workbook: a first sheet 说明 (notes) and the
// sheet 规模明细 with Chinese headers below an empty row, dates and
// date-times, numbers of 17 significant digits shown rounded (0.00), text
// with leading zeros, empty cells, a fully empty row, booleans and a formula
// with its cached value.
func writeWorkbook(t *testing.T) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetSheetName("Sheet1", "说明"))
	must(f.SetSheetRow("说明", "A1", &[]any{"项目", "内容"}))
	must(f.SetSheetRow("说明", "A2", &[]any{"月份", "2024年12月"}))
	_, err := f.NewSheet("规模明细")
	must(err)
	style := func(s *excelize.Style) int {
		id, err := f.NewStyle(s)
		must(err)
		return id
	}
	date := style(&excelize.Style{NumFmt: 14})
	cnDate := style(&excelize.Style{CustomNumFmt: ptr(`yyyy"年"m"月"d"日"`)})
	dateTime := style(&excelize.Style{CustomNumFmt: ptr("yyyy-mm-dd hh:mm:ss")})
	rounded := style(&excelize.Style{NumFmt: 2}) // 0.00
	const s = "规模明细"
	must(f.SetSheetRow(s, "A2", &[]any{"月度", "计划代码", "期末资产规模", "当期收益率", "更新时间", "启用", "备注", "合计"}))
	must(f.SetSheetRow(s, "A3", &[]any{serial20241201, "P0001", nil, nil, serial20241201 + serial0930, true, "中文 备注", nil}))
	// Excel stores up to 17 significant digits (0.3 as 0.29999999999999999),
	// excelize's SetCellFloat 15: SetCellDefault stores the text given.
	must(f.SetCellDefault(s, "C3", "1234567.8912"))
	must(f.SetCellDefault(s, "D3", "0.29999999999999999"))
	must(f.SetCellFloat(s, "H3", 2469135.7824, -1, 64))
	must(f.SetCellFormula(s, "H3", "C3*2"))
	// row 4 is empty
	must(f.SetSheetRow(s, "A5", &[]any{serial20241130, "00123", 100, -0.5, serial20241130, false, nil, nil}))
	must(f.SetSheetRow(s, "A6", &[]any{serial20241201, "P0003", nil, nil, nil, nil, "  空格 ", nil}))
	must(f.SetCellDefault(s, "C6", "123456789.12345679"))
	must(f.SetCellDefault(s, "D6", "0.30000000000000004"))
	must(f.SetCellDefault(s, "H6", "1E-7"))
	for _, c := range []struct {
		cells string
		style int
	}{{"A3", date}, {"A5", cnDate}, {"A6", date}, {"E3", dateTime}, {"E5", dateTime}, {"C3", rounded}, {"C6", rounded}} {
		must(f.SetCellStyle(s, c.cells, c.cells, c.style))
	}
	p := filepath.Join(t.TempDir(), "monthly.xlsx")
	must(f.SaveAs(p))
	return p
}

func ptr[T any](v T) *T { return &v }

const xlsxTable = `CREATE TABLE "规模明细" (id int GENERATED ALWAYS AS IDENTITY, "月度" date NOT NULL, "计划代码" text,
	"期末资产规模" numeric, "当期收益率" numeric, "更新时间" timestamp, "启用" boolean, "备注" text, "合计" numeric)`

func xlsxTableRows(t *testing.T, s *service) []string {
	t.Helper()
	return s.query(t, `SELECT concat_ws('|', "月度", "计划代码", "期末资产规模", "当期收益率", coalesce("更新时间"::text, 'NULL'),
		coalesce("启用"::text, 'NULL'), coalesce("备注", 'NULL'), coalesce("合计"::text, 'NULL')) FROM "规模明细" ORDER BY id`)
}

func TestLoadXLSXSheet(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, xlsxTable)
	s.exec(t, `CREATE TABLE "说明" ("项目" text, "内容" text)`)
	book := writeWorkbook(t)
	r := mustRun(t, nil, "load", "--addr", s.addr, "--table", "规模明细", "--sheet", "规模明细", "--mode", "append", "--json", book)
	if m := decodeResponse(t, r.stdout); m["inserted"] != "3" || !reflect.DeepEqual(m["skippedColumns"], []any{}) {
		t.Errorf("response: %v", m)
	}
	want := []string{
		"2024-12-01|P0001|1234567.8912|0.3|2024-12-01 09:30:00|true|中文 备注|2469135.7824",
		"2024-11-30|00123|100|-0.5|2024-11-30 00:00:00|false|NULL|NULL",
		"2024-12-01|P0003|123456789.12345679|0.30000000000000004|NULL|NULL|  空格 |0.0000001",
	}
	if got := xlsxTableRows(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("table:\n%q\nwant:\n%q", got, want)
	}
	// Without --sheet the first sheet loads; --format xlsx reads stdin.
	mustRun(t, nil, "load", "--addr", s.addr, "--table", "说明", "--mode", "append", book)
	b, err := os.ReadFile(book)
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, bytes.NewReader(b), "load", "--addr", s.addr, "--table", "说明", "--mode", "append", "--format", "xlsx", "-")
	got := s.query(t, `SELECT "项目" || '=' || "内容" FROM "说明"`)
	if want := []string{"月份=2024年12月", "月份=2024年12月"}; !reflect.DeepEqual(got, want) {
		t.Errorf("说明: %q, want %q", got, want)
	}
}

// TestXLSXRowsValues reads the test workbook without a service: the values
// are exactly the texts loaded, and where is the sheet row.
func TestXLSXRowsValues(t *testing.T) {
	t.Parallel()
	book := writeWorkbook(t)
	in, err := openInput(book, "", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	src, err := in.rows(readOptions{sheet: "规模明细", xlsxText: defaultXLSXTextMiB << 20})
	if err != nil {
		t.Fatal(err)
	}
	row, err := src.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"月度": "2024-12-01", "计划代码": "P0001", "期末资产规模": "1234567.8912", "当期收益率": "0.3",
		"更新时间": "2024-12-01 09:30:00", "启用": "true", "备注": "中文 备注", "合计": "2469135.7824"}
	if !reflect.DeepEqual(map[string]any(row), want) || src.Where() != book+`: sheet "规模明细" row 3` {
		t.Errorf("row %v at %s\nwant %v", row, src.Where(), want)
	}
	if row, err = src.Next(); err != nil || row["备注"] != nil || row["计划代码"] != "00123" || !strings.HasSuffix(src.Where(), "row 5") {
		t.Errorf("second row %v at %s: %v", row, src.Where(), err)
	}
}

func TestLoadXLSXFailures(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, xlsxTable)
	book := writeWorkbook(t)
	for _, tc := range []struct {
		name, file, sheet, stderr string
	}{
		{"missing sheet", book, "规模", `loadctl: monthly.xlsx has no sheet "规模"; its sheets are "说明" and "规模明细"` + "\n"},
		{"error cell", errorBook(t, book), "规模明细", `loadctl: monthly.xlsx: sheet "规模明细": cell C12 holds the error value #DIV/0!; fix or clear it and save the workbook again` + "\n"},
		{"value without header", patchCell(t, book, `<c r="I5" t="inlineStr"><is><t>x</t></is></c>`), "规模明细",
			`loadctl: monthly.xlsx: sheet "规模明细": cell I5 holds a value but its column has no name in the header row` + "\n"},
		{"formula without value", patchCell(t, book, `<c r="H5"><f>C5*2</f></c>`), "规模明细",
			`loadctl: monthly.xlsx: sheet "规模明细": cell H5 holds a formula with no calculated value; open and save the workbook in Excel to store its value` + "\n"},
		{"not a workbook", writeFile(t, "monthly.xlsx", "id\n1\n"), "", "loadctl: monthly.xlsx: not an .xlsx workbook: zip: not a valid zip file\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"load", "--addr", s.addr, "--table", "规模明细", "--mode", "append", "--quiet", tc.file}
			if tc.sheet != "" {
				args = append(args, "--sheet", tc.sheet)
			}
			r := run(t, nil, args...)
			stderr := strings.ReplaceAll(r.stderr, filepath.Dir(tc.file)+"/", "")
			if r.code != 1 || stderr != tc.stderr {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", r.code, stderr, tc.stderr)
			}
		})
	}
	if got := s.query(t, `SELECT count(*)::text FROM "规模明细"`); got[0] != "0" {
		t.Errorf("failed loads left %s rows", got[0])
	}
}

// errorBook is the test workbook with eight more good rows and then an
// error cell, C12 = 1/0, as Excel stores it: the rows before it are sent
// before the error is met.
func errorBook(t *testing.T, book string) string {
	t.Helper()
	var rows strings.Builder
	for r := 7; r <= 11; r++ {
		rows.WriteString(strings.ReplaceAll(`<row r="N"><c r="AN"><v>45627</v></c><c r="BN" t="inlineStr"><is><t>PN</t></is></c></row>`, "N", strconv.Itoa(r)))
	}
	rows.WriteString(`<row r="12"><c r="A12"><v>45627</v></c><c r="C12" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>`)
	return rewriteSheet(t, book, func(xml string) string {
		return strings.Replace(xml, "</sheetData>", rows.String()+"</sheetData>", 1)
	})
}

// patchCell is the test workbook with cell added to row 5 of 规模明细.
func patchCell(t *testing.T, book, cell string) string {
	t.Helper()
	return rewriteSheet(t, book, func(xml string) string {
		i := strings.Index(xml, `<row r="5"`)
		j := strings.Index(xml[i:], "</row>")
		return xml[:i+j] + cell + xml[i+j:]
	})
}

// rewriteSheet copies the workbook with the XML of its second sheet
// (规模明细) passed through edit.
func rewriteSheet(t *testing.T, book string, edit func(string) string) string {
	t.Helper()
	zr, err := zip.OpenReader(book)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := filepath.Join(t.TempDir(), filepath.Base(book))
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if zf.Name == "xl/worksheets/sheet2.xml" {
			b = []byte(edit(string(b)))
		}
		w, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
