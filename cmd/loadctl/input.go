package main

import (
	"bufio"
	"bytes"
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
)

// rowSource yields rows one at a time, io.EOF after the last.
type rowSource interface {
	Next() (client.Row, error)
	// Where is the place of the last row read: "data.csv:12" (its first
	// line) or "data.json: row 12".
	Where() string
}

// input is the file (or standard input) being loaded, with a count of the
// bytes read from it so far for the progress display.
type input struct {
	name   string // the file's name, or "stdin"
	format string
	size   int64 // -1 when unknown
	read   atomic.Int64
	r      *bufio.Reader
	closer io.Closer
}

// openInput opens path ("" or "-" for stdin) and settles its format: the
// format flag, else the file's extension, else (stdin) a sniff of the first
// byte that is not white space.
func openInput(path, format string, stdin io.Reader) (*input, error) {
	format, err := normalFormat(format)
	if err != nil {
		return nil, err
	}
	in := &input{name: path, size: -1}
	src := stdin
	if path == "" || path == "-" {
		in.name = "stdin"
	} else {
		if format == "" {
			if format, err = formatOf(path); err != nil {
				return nil, err
			}
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		in.closer, src = f, f
	}
	if f, ok := src.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			in.size = st.Size()
		}
	}
	in.r = bufio.NewReaderSize(&countingReader{r: src, n: &in.read}, 64<<10)
	skipBOM(in.r)
	if in.format = format; format == "" {
		in.format = sniff(in.r)
	}
	return in, nil
}

// Close closes the file, if it is one.
func (in *input) Close() error {
	if in.closer == nil {
		return nil
	}
	return in.closer.Close()
}

// rows returns the input's row reader.
func (in *input) rows(comma byte, null *string) (rowSource, error) {
	switch in.format {
	case formatCSV:
		return newCSVRows(in.r, in.name, comma, null)
	case formatNDJSON:
		return newJSONRows(in.r, in.name, false)
	default:
		return newJSONRows(in.r, in.name, true)
	}
}

func normalFormat(f string) (string, error) {
	switch f = strings.ToLower(f); f {
	case "", formatCSV, formatNDJSON, formatJSON:
		return f, nil
	case "jsonl":
		return formatNDJSON, nil
	}
	return "", usageErrorf("unknown --format %q: want csv, ndjson or json", f)
}

func formatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return formatCSV, nil
	case ".ndjson", ".jsonl":
		return formatNDJSON, nil
	case ".json":
		return formatJSON, nil
	}
	return "", usageErrorf("cannot tell the format of %s from its extension (.csv, .ndjson, .jsonl, .json); use --format csv|ndjson|json", path)
}

func skipBOM(r *bufio.Reader) {
	if b, _ := r.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		r.Discard(3) //nolint:errcheck // just peeked
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
