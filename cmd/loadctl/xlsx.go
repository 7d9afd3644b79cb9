package main

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/xuri/excelize/v2"

	"github.com/loadsvc/loadsvc/client"
)

// xlsxRows reads one sheet of a workbook a row at a time, straight from its
// compressed part, so memory holds one row (and the shared strings) however
// long the sheet. The first non-empty row names the columns; fully empty
// rows are skipped. Cells go as text for PostgreSQL to parse:
//
//   - text as is; an empty cell (or empty text) is NULL
//   - a number: the shortest decimal that round-trips the stored double,
//     whatever the display format rounds it to
//   - a number in a date format: 2024-12-01, or 2024-12-01 09:30:00 when it
//     has a time of day (to the second); in a time-only format 09:30:00
//   - a boolean: true or false
//   - a formula: its cached value, as above
//   - an error value (#N/A, #DIV/0!): the load is refused, naming the cell
//
// A row holds at most excelize.MaxColumns cells and the workbook's text
// limit of text.
type xlsxRows struct {
	wb       *workbook
	sheet    string
	part     *xmlPart
	columns  map[int]string // column number (1-based) → name
	row      int            // sheet row number of the last row read
	cells    []xlsxCell     // the row being read, reused
	rowText  int64          // bytes of text in cells
	text, is []byte         // a cell's <v> and <is> texts, reused
}

// xlsxCell is one cell as the sheet stores it.
type xlsxCell struct {
	col     int
	typ     string // the t attribute: "" or n, s, str, inlineStr, b, e, d
	style   int
	value   string // <v>, or the text of <is>
	hasV    bool
	formula bool
}

func newXLSXRows(wb *workbook, sheet string) (*xlsxRows, error) {
	name, part, err := wb.sheet(sheet)
	if err != nil {
		return nil, err
	}
	p, err := openXMLPart(wb.zip, part, sheetLimit)
	if err != nil {
		return nil, fmt.Errorf("%s: sheet %q: %v", wb.name, name, err)
	}
	x := &xlsxRows{wb: wb, sheet: name, part: p}
	if err := x.readHeader(); err != nil {
		p.Close()
		return nil, err
	}
	return x, nil
}

// Close closes the sheet's part.
func (x *xlsxRows) Close() error { return x.part.Close() }

// readHeader takes the first non-empty row as the column names.
func (x *xlsxRows) readHeader() error {
	vals, err := x.nextValues()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: sheet %q is empty: its first non-empty row must name the columns", x.wb.name, x.sheet)
	}
	if err != nil {
		return err
	}
	x.columns = make(map[int]string, len(vals))
	seen := make(map[string]string, len(vals))
	for i, c := range x.cells {
		name := vals[i]
		if name == "" {
			continue
		}
		ref := cellName(c.col, x.row)
		if prev, dup := seen[name]; dup {
			return x.errorf("header: cells %s and %s both name the column %q", prev, ref, name)
		}
		seen[name] = ref
		x.columns[c.col] = name
	}
	return nil
}

// Next returns the next non-empty row, or io.EOF after the last.
func (x *xlsxRows) Next() (client.Row, error) {
	vals, err := x.nextValues()
	if err != nil {
		return nil, err
	}
	row := make(client.Row, len(x.columns))
	for _, name := range x.columns {
		row[name] = nil
	}
	for i, c := range x.cells {
		if vals[i] == "" {
			continue
		}
		name, ok := x.columns[c.col]
		if !ok {
			return nil, x.errorf("cell %s holds a value but its column has no name in the header row", cellName(c.col, x.row))
		}
		row[name] = vals[i]
	}
	return row, nil
}

// nextValues reads rows up to the next one with a value and returns the
// values of its cells (x.cells), "" for an empty cell.
func (x *xlsxRows) nextValues() ([]string, error) {
	for {
		if err := x.readRow(); err != nil {
			return nil, err
		}
		vals := make([]string, len(x.cells))
		empty := true
		for i, c := range x.cells {
			v, err := x.value(c)
			if err != nil {
				return nil, err
			}
			vals[i], empty = v, empty && v == ""
		}
		if !empty {
			return vals, nil
		}
	}
}

// readRow reads the sheet up to the end of the next <row> into x.cells.
func (x *xlsxRows) readRow() error {
	x.cells, x.rowText = x.cells[:0], 0
	for {
		tok, err := x.part.Token()
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil {
			return fmt.Errorf("%s: sheet %q after row %d: %v", x.wb.name, x.sheet, x.row, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "row" {
				return x.readCells(t)
			}
		case xml.EndElement:
			if t.Name.Local == "sheetData" {
				return io.EOF
			}
		}
	}
}

// readCells reads the cells of the row that start opens.
func (x *xlsxRows) readCells(start xml.StartElement) error {
	x.row++
	if r := attr(start, "r"); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 {
			return x.errorf("row number %q is not a number", r)
		}
		x.row = n
	}
	for {
		tok, err := x.part.Token()
		if err != nil {
			return x.errorf("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "c" {
				if err := x.part.skip(); err != nil {
					return x.errorf("%v", err)
				}
				continue
			}
			if err := x.readCell(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil // </row>
		}
	}
}

// readCell reads one <c> element: its value <v> or inline string <is>,
// and whether it has a formula <f>.
func (x *xlsxRows) readCell(start xml.StartElement) error {
	if len(x.cells) == excelize.MaxColumns {
		return x.errorf("row %d has more than %d cells, the most a row has", x.row, excelize.MaxColumns)
	}
	c := xlsxCell{col: 1, typ: attr(start, "t")}
	if len(x.cells) > 0 {
		c.col = x.cells[len(x.cells)-1].col + 1
	}
	if ref := attr(start, "r"); ref != "" {
		col, _, err := excelize.CellNameToCoordinates(ref)
		if err != nil {
			return x.errorf("cell reference %q: %v", ref, err)
		}
		c.col = col
	}
	if s := attr(start, "s"); s != "" {
		c.style, _ = strconv.Atoi(s) // an unknown style is a plain number
	}
	x.text, x.is = x.text[:0], x.is[:0]
	if err := x.readCellBody(&c); err != nil {
		return err
	}
	switch {
	case c.hasV:
		c.value = string(x.text)
	case c.typ == "inlineStr":
		c.value = unescapeOOXML(string(x.is))
	}
	x.rowText += int64(len(x.text) + len(x.is))
	x.cells = append(x.cells, c)
	return nil
}

// readCellBody reads the elements of a cell up to its end.
func (x *xlsxRows) readCellBody(c *xlsxCell) error {
	for {
		tok, err := x.part.Token()
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			err = x.readCellChild(c, t.Name.Local)
		}
		if errors.Is(err, errTextLimit) {
			return x.errorf("cell %s: row %d holds more than %s of text, loadctl's limit (%s raises it)",
				cellName(c.col, x.row), x.row, mib(x.wb.textLimit), flagXLSXText)
		}
		if err != nil {
			return x.errorf("cell %s: %v", cellName(c.col, x.row), err)
		}
	}
}

// readCellChild reads the element of a cell just opened.
func (x *xlsxRows) readCellChild(c *xlsxCell, name string) error {
	room := int(max(x.wb.textLimit-x.rowText-int64(len(x.text)+len(x.is)), 0))
	var err error
	switch name {
	case "v":
		c.hasV = true
		x.text, err = x.part.text(x.text[:0], len(x.text)+room, false)
	case "is":
		x.is, err = x.part.text(x.is, len(x.is)+room, true)
	case "f":
		c.formula = true
		err = x.part.skip()
	default:
		err = x.part.skip()
	}
	return err
}

// value maps a cell to the text it is loaded as ("" for an empty cell).
func (x *xlsxRows) value(c xlsxCell) (string, error) {
	ref := cellName(c.col, x.row)
	switch c.typ {
	case "s":
		return x.sharedString(c, ref)
	case "str", "inlineStr":
		return c.value, nil
	case "b":
		return strconv.FormatBool(c.value == "1" || c.value == "true"), nil
	case "e":
		return "", x.errorf("cell %s holds the error value %s; fix or clear it and save the workbook again", ref, c.value)
	case "d":
		return x.isoDate(c, ref)
	}
	if !c.hasV {
		if c.formula {
			return "", x.errorf("cell %s holds a formula with no calculated value; open and save the workbook in Excel to store its value", ref)
		}
		return "", nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(c.value), 64)
	if err != nil {
		return "", x.errorf("cell %s: %q is not a number", ref, c.value)
	}
	return x.number(f, x.wb.styles.class(c.style), ref)
}

func (x *xlsxRows) sharedString(c xlsxCell, ref string) (string, error) {
	i, err := strconv.Atoi(strings.TrimSpace(c.value))
	s, ok := x.wb.strings.get(i)
	if err != nil || !ok {
		return "", x.errorf("cell %s refers to shared string %q, which the workbook lacks", ref, c.value)
	}
	return s, nil
}

// number formats a cell's number as its number format says: a date, a time
// or the number itself.
func (x *xlsxRows) number(f float64, class numFmtClass, ref string) (string, error) {
	if class == fmtNumber {
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	t, err := excelize.ExcelDateToTime(f, x.wb.date1904)
	if err != nil {
		return "", x.errorf("cell %s: %v is not a date", ref, f)
	}
	return formatTime(t, class), nil
}

// isoDate reads a t="d" cell, whose value is an ISO 8601 date and time.
func (x *xlsxRows) isoDate(c xlsxCell, ref string) (string, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02", "15:04:05.999999999"} {
		if t, err := time.Parse(layout, c.value); err == nil {
			class := fmtDate
			if layout == "15:04:05.999999999" {
				class = fmtTimeOnly
			}
			return formatTime(t.Round(time.Second), class), nil
		}
	}
	return "", x.errorf("cell %s: %q is not an ISO 8601 date", ref, c.value)
}

// formatTime is 2024-12-01, 2024-12-01 09:30:00 or (time only) 09:30:00.
func formatTime(t time.Time, class numFmtClass) string {
	switch {
	case class == fmtTimeOnly:
		return t.Format(time.TimeOnly)
	case t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0:
		return t.Format(time.DateOnly)
	}
	return t.Format(time.DateTime)
}

// Pos is the sheet row of the last row read.
func (x *xlsxRows) Pos() int64 { return int64(x.row) }

// Place is the cell of column in sheet row pos, "净值!C512", or the row
// "净值!512:512" when column is "" or has no cell in the header row; a
// sheet name that needs it is quoted as Excel quotes it ('My sheet'!C512).
func (x *xlsxRows) Place(pos int64, column string) string {
	sheet := sheetRef(x.sheet)
	for col, name := range x.columns {
		if name == column && column != "" {
			if ref, err := excelize.CoordinatesToCellName(col, int(pos)); err == nil {
				return sheet + "!" + ref
			}
		}
	}
	return fmt.Sprintf("%s!%d:%d", sheet, pos, pos)
}

// sheetRef is a sheet's name as a reference writes it: as it is when it
// is letters, digits, '_' and '.' not starting with a digit, else in single
// quotes, with a quote in it doubled.
func sheetRef(name string) string {
	plain := name != ""
	for i, r := range name {
		if !(unicode.IsLetter(r) || r == '_' || r == '.' || (unicode.IsDigit(r) && i > 0)) {
			plain = false
			break
		}
	}
	if plain {
		return name
	}
	return "'" + strings.ReplaceAll(name, "'", "''") + "'"
}

// Where is the sheet and row of the last row read.
func (x *xlsxRows) Where() string {
	return fmt.Sprintf("%s: sheet %q row %d", x.wb.name, x.sheet, x.row)
}

func (x *xlsxRows) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: sheet %q: %s", x.wb.name, x.sheet, fmt.Sprintf(format, args...))
}

// cellName is the A1 name of a cell.
func cellName(col, row int) string {
	name, err := excelize.CoordinatesToCellName(col, row)
	if err != nil {
		return fmt.Sprintf("R%dC%d", row, col)
	}
	return name
}

// attr is the value of an element's attribute by local name.
func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
