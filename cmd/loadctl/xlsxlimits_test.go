package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// zipPart is one part of a hand-built workbook: its bytes as stored in the
// zip and what its zip header declares.
type zipPart struct {
	name   string
	method uint16 // zip.Store or zip.Deflate
	data   []byte
	size   uint64 // the inflated size the header declares
	crc    uint32
}

// storedPart is a part stored as is, not compressed.
func storedPart(name, content string) zipPart {
	return zipPart{name: name, method: zip.Store, data: []byte(content), size: uint64(len(content)),
		crc: crc32.ChecksumIEEE([]byte(content))}
}

// repeatedPart is a part that inflates to head, then unit n times, then
// tail. Each of the three is deflated on its own and unit's bytes are
// repeated: a deflate stream may be cut where it was flushed, and a piece
// that refers to nothing before it may follow any other. So a part of
// hundreds of MB costs the deflating of one unit, even under -race.
func repeatedPart(t *testing.T, name, head, unit string, n int, tail string) zipPart {
	t.Helper()
	p := zipPart{name: name, method: zip.Deflate, size: uint64(len(head) + n*len(unit) + len(tail))}
	unitBytes := deflatePiece(t, unit, false)
	p.data = append(deflatePiece(t, head, false), bytes.Repeat(unitBytes, n)...)
	p.data = append(p.data, deflatePiece(t, tail, true)...)
	p.crc = crc32.ChecksumIEEE([]byte(head))
	for range n {
		p.crc = crc32.Update(p.crc, crc32.IEEETable, []byte(unit))
	}
	p.crc = crc32.Update(p.crc, crc32.IEEETable, []byte(tail))
	return p
}

// deflatePiece deflates s on its own, flushed (to a byte boundary) or, for
// the last piece of a stream, closed.
func deflatePiece(t *testing.T, s string, last bool) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(fw, s); err != nil {
		t.Fatal(err)
	}
	end := fw.Flush
	if last {
		end = fw.Close
	}
	if err := end(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeZip writes the parts, each with the header it declares, to a file
// named name in a fresh directory.
func writeZip(t *testing.T, name string, parts ...zipPart) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, p := range parts {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: p.name, Method: p.method, CRC32: p.crc,
			CompressedSize64: uint64(len(p.data)), UncompressedSize64: p.size})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The parts of a minimal workbook: one sheet, Sheet1, shared strings and
// styles.
const (
	xmlDecl      = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"
	bookPkgRels  = xmlDecl + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`
	bookWorkbook = xmlDecl + `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`
	bookRels     = xmlDecl + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`
	sheetHead    = xmlDecl + `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	sheetTail    = `</sheetData></worksheet>`
	sstHead      = xmlDecl + `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`
	sstTail      = `</sst>`
	stylesHead   = xmlDecl + `<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="1">`
	stylesTail   = `</cellXfs></styleSheet>`
)

// writeBook writes a workbook of one sheet, Sheet1, whose rows are
// sheetData, no shared strings and one cell style; a part of parts replaces
// the one of its name.
func writeBook(t *testing.T, name, sheetData string, parts ...zipPart) string {
	t.Helper()
	book := []zipPart{storedPart("_rels/.rels", bookPkgRels), storedPart("xl/workbook.xml", bookWorkbook),
		storedPart("xl/_rels/workbook.xml.rels", bookRels), storedPart("xl/worksheets/sheet1.xml", sheetHead+sheetData+sheetTail),
		storedPart("xl/sharedStrings.xml", sstHead+sstTail), storedPart("xl/styles.xml", stylesHead+`<xf numFmtId="0"/>`+stylesTail)}
	for _, p := range parts {
		for i := range book {
			if book[i].name == p.name {
				book[i] = p
			}
		}
	}
	return writeZip(t, name, book...)
}

// sharedStringsSheet is the rows of a sheet of n rows under the header
// id,name: row i holds i and shared string i.
func sharedStringsSheet(n int) string {
	var b strings.Builder
	b.WriteString(`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>`)
	for i := range n {
		r, v := strconv.Itoa(i+2), strconv.Itoa(i)
		b.WriteString(`<row r="` + r + `"><c r="A` + r + `"><v>` + v + `</v></c><c r="B` + r + `" t="s"><v>` + v + `</v></c></row>`)
	}
	return b.String()
}

// oneStringSize is what oneStringBomb inflates to.
const oneStringSize = len(sstHead+"<si><t>") + 250<<20 + len("</t></si>"+sstTail)

// bombLimit is the peak resident memory a bomb may cost loadctl.
const bombLimit = 200 << 20

// TestXLSXBombsRefusedInBoundedMemory runs the built loadctl on workbooks
// made to inflate, issue 19's among them: each is refused within
// bombLimit of memory and seconds of time, naming the workbook, the part
// and the limit, before anything is loaded.
func TestXLSXBombsRefusedInBoundedMemory(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.exec(t, `CREATE TABLE t (id text)`)
	bin := buildLoadctl(t)
	if bin == "" {
		t.FailNow()
	}
	const oneString = len(sstHead + "<si><t>")
	for _, tc := range []struct {
		name   string
		part   func() zipPart
		stderr string
	}{
		{"issue 19: 262 KB, one shared string of 262 MB", func() zipPart { return oneStringBomb(t, 0) },
			"xl/sharedStrings.xml: its zip header says it inflates to " + strconv.Itoa(oneStringSize) + " bytes, more than 64 MiB, loadctl's limit for the shared strings (--max-xlsx-text-mib raises it)"},
		{"the same, its header declaring 60 MiB", func() zipPart { return oneStringBomb(t, 60<<20) },
			"xl/sharedStrings.xml: an XML token (a tag, or a text) of more than 1 MiB at byte " + strconv.Itoa(oneString) + ", loadctl's limit (Excel keeps a cell's text under 32,767 characters)"},
		{"the same, its header declaring 512 KiB", func() zipPart { return oneStringBomb(t, 512<<10) },
			"xl/sharedStrings.xml inflates to more than the 524288 bytes its zip header declares"},
		{"210 MB of strings of 32,767 characters, its header declaring 64 MiB", func() zipPart {
			p := repeatedPart(t, "xl/sharedStrings.xml", sstHead, strings.Repeat("<si><t>"+strings.Repeat("A", 32767)+"</t></si>", 32), 200, sstTail)
			p.size = 64 << 20
			return p
		}, "xl/sharedStrings.xml inflates to more than 64 MiB, loadctl's limit for the shared strings (--max-xlsx-text-mib raises it)"},
		{"60 MiB of empty shared strings", func() zipPart {
			return repeatedPart(t, "xl/sharedStrings.xml", sstHead, strings.Repeat("<si/>", 1<<18), 48, sstTail)
		}, "xl/sharedStrings.xml: the shared strings take more than 64 MiB of memory, loadctl's limit (--max-xlsx-text-mib raises it)"},
		{"389 KB of styles inflating to 262 MB", func() zipPart {
			return repeatedPart(t, "xl/styles.xml", stylesHead, strings.Repeat("<xf/>", 1<<18), 200, stylesTail)
		}, "xl/styles.xml: its zip header says it inflates to " + strconv.Itoa(len(stylesHead+stylesTail)+200*5<<18) + " bytes, more than 16 MiB, loadctl's limit for a part it reads whole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			book := writeBook(t, "bomb.xlsx", `<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row>`, tc.part())
			run := runBounded(t, bin, s, bombLimit, book, "--table", "t")
			t.Logf("%d KB: exit %d in %v, CPU %v, peak RSS %d MiB", run.size/1000, run.code, run.took, run.cpu, run.peak>>20)
			want := "loadctl: " + book + ": " + tc.stderr + "\n"
			if run.code != 1 || run.stderr != want {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", run.code, run.stderr, want)
			}
			if run.cpu > 10*time.Second || run.took > time.Minute {
				t.Errorf("took %v, CPU %v; want under 1m, CPU under 10s", run.took, run.cpu)
			}
		})
	}
	if got := s.query(t, `SELECT count(*)::text FROM t`); got[0] != "0" {
		t.Errorf("the bombs loaded %s rows", got[0])
	}
}

// oneStringBomb is issue 19's shared strings part: 262 KB deflated, one
// string of 262 MB (oneStringSize bytes) inflated, its header declaring size
// (0: the truth).
func oneStringBomb(t *testing.T, size uint64) zipPart {
	t.Helper()
	p := repeatedPart(t, "xl/sharedStrings.xml", sstHead+"<si><t>", strings.Repeat("A", 1<<20), 250, "</t></si>"+sstTail)
	if size != 0 {
		p.size = size
	}
	return p
}

// TestXLSXSheetLimits reads sheets past the bounds on one row and on the
// XML of a worksheet: each is refused, naming the workbook, the sheet, the
// part or cell, and the limit.
func TestXLSXSheetLimits(t *testing.T) {
	t.Parallel()
	const header = `<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1" t="inlineStr"><is><t>b</t></is></c><c r="C1" t="inlineStr"><is><t>c</t></is></c></row>`
	text := strings.Repeat("x", 400_000)
	wide := `<row r="2"><c r="A2" t="inlineStr"><is><r><t>` + text + `</t></r></is></c><c r="B2" t="str"><v>` + text + `</v></c><c r="C2" t="inlineStr"><is><t>` + text + `</t></is></c></row>`
	sheetPart := "xl/worksheets/sheet1.xml: "
	for _, tc := range []struct {
		name, rows string
		textMiB    int64
		err        string // "" to read every row
	}{
		{"a row within the text limit", wide, 2, ""},
		{"a row past the text limit", wide, 1, `sheet "Sheet1": cell C2: row 2 holds more than 1 MiB of text, loadctl's limit (--max-xlsx-text-mib raises it)`},
		{"a value of 2 MiB", `<row r="2"><c r="A2" t="str"><v>` + strings.Repeat("x", 2<<20) + `</v></c></row>`, 64,
			`sheet "Sheet1": cell A2: ` + sheetPart + "an XML token (a tag, or a text) of more than 1 MiB at byte " + strconv.Itoa(len(sheetHead+header)+32) +
				", loadctl's limit (Excel keeps a cell's text under 32,767 characters)"},
		{"elements nested 101 deep", `<row r="2">` + strings.Repeat("<x>", 98) + strings.Repeat("</x>", 98) + `</row>`, 64,
			`sheet "Sheet1": ` + sheetPart + "elements nest more than 100 deep at byte " + strconv.Itoa(len(sheetHead+header)+11+97*3) + ", loadctl's limit"},
		{"16,385 cells in a row", `<row r="2">` + strings.Repeat("<c/>", 16385) + `</row>`, 64,
			`sheet "Sheet1": row 2 has more than 16384 cells, the most a row has`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			book := writeBook(t, "limits.xlsx", header+tc.rows)
			err := readAllRows(t, book, tc.textMiB<<20)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != book+": "+tc.err) {
				t.Errorf("got %v\nwant %s", err, tc.err)
			}
		})
	}
}

// readAllRows reads every row of a workbook's first sheet, holding at most
// textLimit bytes of text, and returns the first error.
func readAllRows(t *testing.T, book string, textLimit int64) error {
	t.Helper()
	in, err := openInput(book, "", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	src, err := in.rows(readOptions{xlsxText: textLimit})
	for err == nil {
		_, err = src.Next()
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// TestXMLPartCountsWhatItInflates reads a part whose declared size is
// unknown: the bytes are counted as they are read and stop at the limit.
func TestXMLPartCountsWhatItInflates(t *testing.T) {
	t.Parallel()
	doc := "<a>" + strings.Repeat("<b/>", 2000) + "</a>"
	p := newXMLPart("x.xml", io.NopCloser(strings.NewReader(doc)), partLimit{4096, "the test's limit"})
	var err error
	for err == nil {
		_, err = p.Token()
	}
	if want := "x.xml inflates to more than 4096 bytes, the test's limit"; err.Error() != want || p.in.read != 4096 {
		t.Errorf("after %d bytes: %v\nwant %s", p.in.read, err, want)
	}
}

// TestSharedStringsTable reads a table of plain and rich-text strings over
// several text and index blocks: each string is what it was, escapes
// decoded, phonetic runs left out.
func TestSharedStringsTable(t *testing.T) {
	t.Parallel()
	var doc strings.Builder
	doc.WriteString(sstHead + `<si><t xml:space="preserve"> a_x000D_b </t></si><si><r><rPr><b/></rPr><t>rich </t></r><r><t>text</t></r>` +
		`<rPh sb="0" eb="1"><t>ふりがな</t></rPh><phoneticPr fontId="1"/></si><si/><si><t></t></si>`)
	const n = 70_000 // past one index block; 22 bytes each, past one text block
	for i := range n {
		doc.WriteString("<si><t>" + strconv.Itoa(i) + strings.Repeat("·", 6) + "</t></si>")
	}
	doc.WriteString(sstTail)
	s, err := readSharedStrings(newXMLPart("xl/sharedStrings.xml", io.NopCloser(strings.NewReader(doc.String())), partLimit{64 << 20, ""}), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{" a\rb ", "rich text", "", ""} {
		if got, ok := s.get(i); !ok || got != want {
			t.Errorf("string %d: %q %v, want %q", i, got, ok, want)
		}
	}
	for _, i := range []int{0, 1, 47_000, indexBlock - 4, indexBlock - 3, n - 1} {
		if got, ok := s.get(4 + i); !ok || got != strconv.Itoa(i)+strings.Repeat("·", 6) {
			t.Errorf("string %d: %q %v", 4+i, got, ok)
		}
	}
	if _, ok := s.get(4 + n); ok || len(s.index) != 2 {
		t.Errorf("string %d found, or %d index blocks", 4+n, len(s.index))
	}
}

// TestSheetOfManySharedStringsInBoundedMemory loads a sheet of 300,000
// rows, each naming its own shared string, with the built loadctl: a
// workbook of many legitimate shared strings loads whole within the limits.
func TestSheetOfManySharedStringsInBoundedMemory(t *testing.T) {
	t.Parallel()
	const n = 300_000
	s := startService(t)
	s.exec(t, `CREATE TABLE names (id bigint, name text)`)
	run := loadBounded(t, s, 150<<20, func() string {
		var sst strings.Builder
		sst.WriteString(sstHead)
		for i := range n {
			sst.WriteString("<si><t>计划 " + strconv.Itoa(i) + " 名称 P" + strconv.Itoa(i%5000) + "</t></si>")
		}
		sst.WriteString(sstTail)
		return writeBook(t, "names.xlsx", sharedStringsSheet(n), storedPart("xl/sharedStrings.xml", sst.String()))
	}, "--table", "names")
	t.Logf("loaded %d rows of shared strings (%d MiB of .xlsx) in %v, loadctl CPU %v; peak RSS %d MiB", n, run.size>>20, run.took, run.cpu, run.peak>>20)
	got := s.query(t, `SELECT count(*) || ' ' || sum(id) || ' ' || count(DISTINCT name) || ' ' || max(name) FILTER (WHERE id = 123456) FROM names`)
	if want := fmt.Sprintf("%d %d %d 计划 123456 名称 P3456", n, n*(n-1)/2, n); got[0] != want {
		t.Errorf("table: got %s, want %s", got[0], want)
	}
}
