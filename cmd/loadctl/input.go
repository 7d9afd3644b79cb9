package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/loadsvc/loadsvc/client"
)

// The input formats.
const (
	formatCSV    = "csv"
	formatNDJSON = "ndjson"
	formatJSON   = "json"
	formatXLSX   = "xlsx"
)

// rowSource yields rows one at a time, io.EOF after the last.
type rowSource interface {
	Next() (client.Row, error)
	// Where is the place of the last row read: "data.csv:12" (its first
	// line) or "data.json: row 12".
	Where() string
	// Pos is the position of the last row read in its source: the line it
	// starts on (CSV, JSON; 1-based, the header and blank lines counted),
	// or its sheet row (Excel).
	Pos() int64
	// Place names a position, and within it column's value, as a person
	// finds it in the source: "line 12", or the cell "净值!C512" (the row
	// "净值!512:512" when column is "" or not in the sheet).
	Place(pos int64, column string) string
}

// input is the file (or standard input) being loaded, with a count of the
// bytes read from it so far for the progress display.
type input struct {
	name    string // the file's name, or "stdin"
	format  string
	size    int64 // -1 when unknown
	read    atomic.Int64
	r       *bufio.Reader // the text formats
	file    *os.File      // the named file, nil for stdin
	stdin   io.Reader
	closers []io.Closer // closed last first
	wb      *workbook   // an .xlsx input's, once opened (rows)
}

// readOptions are the flags that say how to read the input.
type readOptions struct {
	comma    byte    // CSV
	null     *string // CSV
	sheet    string  // xlsx; "" is the first
	xlsxText int64   // xlsx: the most text held at once, bytes
}

// openInput opens path ("" or "-" for stdin) and settles its format: the
// format flag, else the file's extension, else (stdin) a sniff of the first
// byte that is not white space. With spool, standard input is first copied
// to a temporary file, so that it can be read again (rereadable).
func openInput(path, format string, stdin io.Reader, spool bool) (*input, error) {
	format, err := normalFormat(format)
	if err != nil {
		return nil, err
	}
	in := &input{name: path, size: -1, stdin: stdin, format: format}
	src := stdin
	if path == "" || path == "-" {
		in.name = "stdin"
		if spool && format != formatXLSX {
			if err := in.spool(); err != nil {
				in.Close()
				return nil, err
			}
			src = io.NewSectionReader(in.file, 0, 1<<62)
			if st, err := in.file.Stat(); err == nil {
				in.size = st.Size()
			}
		}
	} else {
		if format == "" {
			if in.format, err = formatOf(path); err != nil {
				return nil, err
			}
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		in.file, src = f, f
		in.closers = append(in.closers, f)
	}
	if f, ok := src.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			in.size = st.Size()
		}
	}
	if in.format == formatXLSX {
		return in, nil // a zip is read at random (rows)
	}
	in.r = textReader(&countingReader{r: src, n: &in.read})
	if in.format == "" {
		in.format = sniff(in.r)
	}
	return in, nil
}

// textReader is a buffered reader of a text input, past a byte order mark.
func textReader(r io.Reader) *bufio.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	skipBOM(br)
	return br
}

// Close closes the file and what was opened on it, and removes a
// temporary copy of stdin.
func (in *input) Close() error {
	var errs []error
	for i := len(in.closers) - 1; i >= 0; i-- {
		errs = append(errs, in.closers[i].Close())
	}
	return errors.Join(errs...)
}

// rows returns the input's row reader.
func (in *input) rows(o readOptions) (rowSource, error) {
	if o.sheet != "" && in.format != formatXLSX {
		return nil, usageErrorf("--sheet is for .xlsx workbooks; %s is %s", in.name, in.format)
	}
	if in.format == formatXLSX {
		return in.sheetRows(o.sheet, o.xlsxText)
	}
	return in.textRows(in.r, o)
}

// textRows reads the rows of a text input (CSV, NDJSON, a JSON array)
// from r.
func (in *input) textRows(r *bufio.Reader, o readOptions) (rowSource, error) {
	switch in.format {
	case formatCSV:
		return newCSVRows(r, in.name, o.comma, o.null)
	case formatNDJSON:
		return newJSONRows(r, in.name, false)
	default:
		return newJSONRows(r, in.name, true)
	}
}

// rereadable reports whether the input can be read again from its start:
// a file, or standard input spooled to one.
func (in *input) rereadable() bool { return in.file != nil }

// reread returns a second reader of the input's rows, from its start, and
// what closes it. The first reader is not disturbed. A workbook's second
// reader reads the sheet again through the first one's workbook, so that
// its shared strings are read and held once (within --max-xlsx-text-mib).
func (in *input) reread(o readOptions) (rowSource, func(), error) {
	none := func() {}
	if !in.rereadable() {
		return nil, none, fmt.Errorf("%s cannot be read again", in.name)
	}
	if in.format == formatXLSX {
		x, err := newXLSXRows(in.wb, o.sheet)
		if err != nil {
			return nil, none, err
		}
		return x, func() { x.Close() }, nil
	}
	st, err := in.file.Stat()
	if err != nil {
		return nil, none, err
	}
	src, err := in.textRows(textReader(io.NewSectionReader(in.file, 0, st.Size())), o)
	return src, none, err
}

// sheetRows opens the workbook and the sheet, holding at most textLimit
// bytes of text at once. A zip is read at random, so standard input is
// first copied to a temporary file.
func (in *input) sheetRows(sheet string, textLimit int64) (rowSource, error) {
	if in.file == nil {
		if err := in.spool(); err != nil {
			return nil, err
		}
	}
	st, err := in.file.Stat()
	if err != nil {
		return nil, err
	}
	in.size = st.Size()
	wb, err := openWorkbook(&countingReaderAt{r: in.file, n: &in.read}, in.size, in.name, textLimit)
	if err != nil {
		return nil, err
	}
	x, err := newXLSXRows(wb, sheet)
	if err != nil {
		return nil, err
	}
	in.wb = wb
	in.closers = append(in.closers, x)
	return x, nil
}

// spool copies standard input to a temporary file, removed by Close.
func (in *input) spool() error {
	f, err := os.CreateTemp("", "loadctl-stdin-*")
	if err != nil {
		return err
	}
	in.file = f
	in.closers = append(in.closers, removeFile(f.Name()), f)
	if _, err := io.Copy(f, in.stdin); err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	return nil
}

// removeFile removes a file when closed.
type removeFile string

func (p removeFile) Close() error { return os.Remove(string(p)) }

func normalFormat(f string) (string, error) {
	switch f = strings.ToLower(f); f {
	case "", formatCSV, formatNDJSON, formatJSON, formatXLSX:
		return f, nil
	case "jsonl":
		return formatNDJSON, nil
	}
	return "", usageErrorf("unknown --format %q: want csv, ndjson, json or xlsx", f)
}

func formatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return formatCSV, nil
	case ".ndjson", ".jsonl":
		return formatNDJSON, nil
	case ".json":
		return formatJSON, nil
	case ".xlsx":
		return formatXLSX, nil
	}
	return "", usageErrorf("cannot tell the format of %s from its extension (.csv, .ndjson, .jsonl, .json, .xlsx); use --format csv|ndjson|json|xlsx", path)
}

// skipBOM skips a UTF-8 byte order mark that r starts with.
func skipBOM(r *bufio.Reader) {
	if b, _ := r.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		r.Discard(3) // cannot fail: the 3 bytes are buffered, just peeked
	}
}

// sniff tells the format of unnamed input from its first byte that is not
// white space: '[' a JSON array, '{' NDJSON, anything else CSV.
func sniff(r *bufio.Reader) string {
	for n := 1; n <= r.Size(); n++ {
		b, _ := r.Peek(n)
		if len(b) < n {
			break
		}
		switch b[n-1] {
		case ' ', '\t', '\r', '\n':
		case '[':
			return formatJSON
		case '{':
			return formatNDJSON
		default:
			return formatCSV
		}
	}
	return formatCSV
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingReaderAt counts the bytes read through it: a workbook's sheet is
// read from start to end, so the count tracks the progress.
type countingReaderAt struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}
