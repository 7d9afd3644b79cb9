package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/loadsvc/loadsvc/client"
)

// csvField is one field of a CSV record: its text and whether any part of
// it was quoted, which is what tells NULL from the empty string.
type csvField struct {
	Text   string
	Quoted bool
}

// csvReader reads CSV the way PostgreSQL's COPY … CSV does: fields split by
// one delimiter byte, double quotes around any part of a field (a doubled
// quote inside quotes is a literal one), delimiters and newlines inside
// quotes are data, records end at LF or CRLF. A UTF-8 byte order mark at the
// very start is dropped. It holds one record at a time.
type csvReader struct {
	r     *bufio.Reader
	comma byte
	line  int // line of the last record read, 1-based
	next  int // line the next record starts on
	buf   []byte
	ends  []int // end offset in buf of each field
	quote []bool
	start bool
}

// errUnterminated is the error for a quoted field still open at the end of
// the input, worded as PostgreSQL words it.
var errUnterminated = errors.New("unterminated CSV quoted field")

func newCSVReader(r io.Reader, comma byte) *csvReader {
	return &csvReader{r: bufio.NewReaderSize(r, 64<<10), comma: comma, next: 1, start: true}
}

// Line is the line on which the last record read started.
func (c *csvReader) Line() int { return c.line }

// Read returns the next record, or io.EOF after the last. The fields are
// valid until the next call.
func (c *csvReader) Read() ([]csvField, error) {
	if c.start {
		c.start = false
		skipBOM(c.r)
	}
	c.buf, c.ends, c.quote = c.buf[:0], c.ends[:0], c.quote[:0]
	start := c.next
	line, err := c.readLine()
	if len(line) == 0 && err != nil {
		return nil, err
	}
	c.line = start
	if err := c.parse(line); err != nil {
		return nil, err
	}
	return c.fields(), nil
}

// readLine returns the next physical line with its LF, or the rest of the
// input at its end. The slice is valid until the next read.
func (c *csvReader) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = c.r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if len(line) > 0 && line[len(line)-1] == '\n' {
		c.next++
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return line, err
	}
	return line, err
}

// parse splits one record, reading further lines while a quote is open.
func (c *csvReader) parse(line []byte) error {
	inQuote, quoted := false, false
	for pos := 0; ; {
		if pos == len(line) {
			if !inQuote {
				c.endField(quoted)
				return nil
			}
			var err error
			if line, err = c.readLine(); len(line) == 0 {
				if err == nil || errors.Is(err, io.EOF) {
					err = errUnterminated
				}
				return err
			}
			pos = 0
			continue
		}
		if inQuote {
			n, closed := c.quoted(line[pos:])
			pos += n
			inQuote = !closed
			continue
		}
		switch b := line[pos]; {
		case b == '"':
			inQuote, quoted = true, true
			pos++
		case b == c.comma:
			c.endField(quoted)
			quoted = false
			pos++
		case b == '\n' || (b == '\r' && pos+2 == len(line) && line[pos+1] == '\n'):
			pos = len(line)
		default:
			n := c.plain(line[pos:])
			pos += n
		}
	}
}

// quoted consumes quoted text up to and including the closing quote and
// reports how many bytes it used and whether the quote closed.
func (c *csvReader) quoted(s []byte) (int, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != '"' {
			continue
		}
		c.buf = append(c.buf, s[:i]...)
		if i+1 < len(s) && s[i+1] == '"' {
			c.buf = append(c.buf, '"')
			n, closed := c.quoted(s[i+2:])
			return i + 2 + n, closed
		}
		return i + 1, true
	}
	c.buf = append(c.buf, s...)
	return len(s), false
}

// plain consumes unquoted bytes up to the next delimiter, quote or line end.
func (c *csvReader) plain(s []byte) int {
	i := 0
	for ; i < len(s); i++ {
		b := s[i]
		if b == c.comma || b == '"' || b == '\n' || (b == '\r' && i+2 == len(s) && s[i+1] == '\n') {
			break
		}
	}
	c.buf = append(c.buf, s[:i]...)
	return i
}

func (c *csvReader) endField(quoted bool) {
	c.ends = append(c.ends, len(c.buf))
	c.quote = append(c.quote, quoted)
}

func (c *csvReader) fields() []csvField {
	out := make([]csvField, len(c.ends))
	start := 0
	for i, end := range c.ends {
		out[i] = csvField{Text: string(c.buf[start:end]), Quoted: c.quote[i]}
		start = end
	}
	return out
}

// csvRows turns CSV records into rows: the header names the columns, an
// unquoted empty field is NULL (or, with a null marker, an unquoted field
// equal to it), and every value is text for PostgreSQL to parse.
type csvRows struct {
	rd      *csvReader
	name    string
	columns []string
	null    *string
}

func newCSVRows(r io.Reader, name string, comma byte, null *string) (*csvRows, error) {
	c := &csvRows{rd: newCSVReader(r, comma), name: name, null: null}
	hdr, err := c.rd.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty input: a CSV file needs a header line naming the columns", name)
	}
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	if c.columns, err = headerColumns(hdr); err != nil {
		return nil, c.errorf("header: %v", err)
	}
	return c, nil
}

func headerColumns(hdr []csvField) ([]string, error) {
	seen := make(map[string]bool, len(hdr))
	cols := make([]string, len(hdr))
	for i, f := range hdr {
		switch {
		case f.Text == "":
			return nil, fmt.Errorf("column %d has no name", i+1)
		case seen[f.Text]:
			return nil, fmt.Errorf("column %q appears twice", f.Text)
		}
		seen[f.Text] = true
		cols[i] = f.Text
	}
	return cols, nil
}

// Next returns the next row, or io.EOF after the last. An empty line is
// skipped unless the file has a single column, where it is a NULL (as in
// COPY).
func (c *csvRows) Next() (client.Row, error) {
	for {
		rec, err := c.rd.Read()
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if err != nil {
			return nil, c.errorf("%v", err)
		}
		if len(rec) == 1 && rec[0] == (csvField{}) && len(c.columns) > 1 {
			continue
		}
		if len(rec) != len(c.columns) {
			return nil, c.errorf("%s, the header has %d", plural(len(rec), "field"), len(c.columns))
		}
		return c.row(rec), nil
	}
}

func (c *csvRows) row(rec []csvField) client.Row {
	row := make(client.Row, len(rec))
	for i, f := range rec {
		if c.isNull(f) {
			row[c.columns[i]] = nil
		} else {
			row[c.columns[i]] = f.Text
		}
	}
	return row
}

func (c *csvRows) isNull(f csvField) bool {
	if f.Quoted {
		return false
	}
	if c.null != nil {
		return f.Text == *c.null
	}
	return f.Text == ""
}

// Pos is the line the last row started on.
func (c *csvRows) Pos() int64 { return int64(c.rd.Line()) }

// Place is "line N".
func (c *csvRows) Place(pos int64, _ string) string { return linePlace(pos) }

// linePlace is "line N".
func linePlace(pos int64) string { return fmt.Sprintf("line %d", pos) }

// Where is the file and line the last row started on.
func (c *csvRows) Where() string { return fmt.Sprintf("%s:%d", c.name, c.rd.Line()) }

func (c *csvRows) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", c.name, c.rd.Line(), fmt.Sprintf(format, args...))
}

// plural is "1 field", "2 fields".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
