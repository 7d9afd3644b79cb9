package main

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// workbook is an opened .xlsx file: its sheets in workbook order, where each
// sheet's part is, the shared strings and the cell styles. Sheet data stays
// in the zip until a sheet is read, a row at a time (xlsxRows). Every part is
// read within bounds (xmlPart); the text held at once, the shared strings
// or one row's cells, within textLimit.
type workbook struct {
	name      string // the file's name, for messages
	zip       *zip.Reader
	textLimit int64
	sheets    []string          // names, in the workbook's order
	parts     map[string]string // sheet name → part path in the zip
	strings   sharedStrings
	styles    cellStyles
	date1904  bool
}

// The flag that sets a workbook's text limit, and the limit's default and
// most in MiB.
const (
	flagXLSXText       = "--max-xlsx-text-mib"
	defaultXLSXTextMiB = 64
	maxXLSXTextMiB     = 1 << 20
)

// The limits of a workbook's parts.
var (
	indexLimit = partLimit{maxIndexPart, "loadctl's limit for a part it reads whole"}
	sheetLimit = partLimit{maxSheetPart, "loadctl's limit for a worksheet"}
)

// The relationship types (their last path element) the reader follows.
const (
	relOfficeDocument = "officeDocument"
	relWorksheet      = "worksheet"
	relSharedStrings  = "sharedStrings"
	relStyles         = "styles"
)

// openWorkbook reads the workbook's index parts from r (size bytes): the
// sheet list, shared strings and styles. The text it holds at once is
// limited to textLimit bytes.
func openWorkbook(r io.ReaderAt, size int64, name string, textLimit int64) (*workbook, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: not an .xlsx workbook: %v", name, err)
	}
	wb := &workbook{name: name, zip: zr, textLimit: textLimit, parts: map[string]string{}}
	if err := wb.readIndex(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return wb, nil
}

// readIndex finds the workbook part, then the parts it relates to.
func (wb *workbook) readIndex() error {
	pkgRels, err := wb.rels("_rels/.rels", "")
	if err != nil {
		return err
	}
	main := pkgRels.target(relOfficeDocument)
	if main == "" {
		return errors.New("not an .xlsx workbook: the package names no workbook part")
	}
	rels, err := wb.rels(path.Join(path.Dir(main), "_rels", path.Base(main)+".rels"), path.Dir(main))
	if err != nil {
		return err
	}
	if err := wb.readSheets(main, rels); err != nil {
		return err
	}
	if p := rels.target(relSharedStrings); p != "" {
		if wb.strings, err = wb.readSharedStrings(p); err != nil {
			return err
		}
	}
	if p := rels.target(relStyles); p != "" {
		if wb.styles, err = wb.readStyles(p); err != nil {
			return err
		}
	}
	return nil
}

// relationships maps a part's relationship ids to their types and target
// parts (resolved to paths in the zip).
type relationships struct {
	byID   map[string]string
	byType map[string]string // first target of each type
}

func (r relationships) target(typ string) string { return r.byType[typ] }

// rels reads a relationships part; targets are relative to dir.
func (wb *workbook) rels(p, dir string) (relationships, error) {
	var doc struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
			Mode   string `xml:"TargetMode,attr"`
		} `xml:"Relationship"`
	}
	r := relationships{byID: map[string]string{}, byType: map[string]string{}}
	if err := wb.decode(p, &doc); err != nil {
		return r, err
	}
	for _, rel := range doc.Rels {
		if rel.Mode == "External" {
			continue
		}
		target := path.Join(dir, rel.Target)
		if strings.HasPrefix(rel.Target, "/") {
			target = strings.TrimPrefix(rel.Target, "/")
		}
		typ := path.Base(rel.Type)
		r.byID[rel.ID] = target
		if _, ok := r.byType[typ]; !ok {
			r.byType[typ] = target
		}
	}
	return r, nil
}

// readSheets reads the sheet list and the date system of the workbook part.
func (wb *workbook) readSheets(p string, rels relationships) error {
	var doc struct {
		Pr struct {
			Date1904 string `xml:"date1904,attr"`
		} `xml:"workbookPr"`
		Sheets []struct {
			Name string `xml:"name,attr"`
			ID   string `xml:"id,attr"` // r:id
		} `xml:"sheets>sheet"`
	}
	if err := wb.decode(p, &doc); err != nil {
		return err
	}
	wb.date1904 = doc.Pr.Date1904 == "1" || doc.Pr.Date1904 == "true"
	for _, s := range doc.Sheets {
		if part, ok := rels.byID[s.ID]; ok {
			wb.sheets = append(wb.sheets, s.Name)
			wb.parts[s.Name] = part
		}
	}
	if len(wb.sheets) == 0 {
		return errors.New("the workbook has no worksheet")
	}
	return nil
}

// readSharedStrings reads the shared strings table within the text limit.
func (wb *workbook) readSharedStrings(p string) (sharedStrings, error) {
	what := fmt.Sprintf("loadctl's limit for the shared strings (%s raises it)", flagXLSXText)
	part, err := openXMLPart(wb.zip, p, partLimit{wb.textLimit, what})
	if err != nil {
		return sharedStrings{}, err
	}
	defer part.Close()
	return readSharedStrings(part, wb.textLimit)
}

// readStyles reads the number format of every cell style.
func (wb *workbook) readStyles(p string) (cellStyles, error) {
	var doc struct {
		NumFmts []struct {
			ID   int    `xml:"numFmtId,attr"`
			Code string `xml:"formatCode,attr"`
		} `xml:"numFmts>numFmt"`
		Xfs []struct {
			NumFmtID int `xml:"numFmtId,attr"`
		} `xml:"cellXfs>xf"`
	}
	if err := wb.decode(p, &doc); err != nil {
		return nil, err
	}
	custom := make(map[int]string, len(doc.NumFmts))
	for _, f := range doc.NumFmts {
		custom[f.ID] = f.Code
	}
	styles := make(cellStyles, len(doc.Xfs))
	for i, xf := range doc.Xfs {
		styles[i] = classifyNumFmt(xf.NumFmtID, custom)
	}
	return styles, nil
}

// decode reads a small part whole into v.
func (wb *workbook) decode(p string, v any) error {
	part, err := openXMLPart(wb.zip, p, indexLimit)
	if err != nil {
		return err
	}
	defer part.Close()
	return part.Decode(v)
}

// sheet returns the part of the named sheet, "" meaning the first; a sheet
// the workbook lacks is an error listing the ones it has.
func (wb *workbook) sheet(name string) (string, string, error) {
	if name == "" {
		name = wb.sheets[0]
	}
	part, ok := wb.parts[name]
	if !ok {
		return "", "", fmt.Errorf("%s has no sheet %q; its sheets are %s", wb.name, name, quoteList(wb.sheets))
	}
	return name, part, nil
}

// quoteList is `"a", "b" and "c"`.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// unescapeOOXML decodes the _xHHHH_ escapes OOXML uses for characters XML
// cannot carry (a carriage return is _x000D_); _x005F_ escapes an
// underscore.
func unescapeOOXML(s string) string {
	if !strings.Contains(s, "_x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if r, ok := ooxmlEscape(s[i:]); ok {
			b.WriteRune(r)
			i += 6
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ooxmlEscape decodes an _xHHHH_ escape at the start of s.
func ooxmlEscape(s string) (rune, bool) {
	if len(s) < 7 || s[0] != '_' || s[1] != 'x' || s[6] != '_' {
		return 0, false
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | (c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
