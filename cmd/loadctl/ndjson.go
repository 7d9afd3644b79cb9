package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/loadsvc/loadsvc/client"
)

// jsonRows reads JSON objects one at a time, either one after another
// (NDJSON: one per line, though any whitespace between them will do) or as
// the elements of one top-level array, so memory holds one row whatever the
// file's size. Numbers keep their exact text; nested objects and arrays stay
// JSON text for json/jsonb columns.
type jsonRows struct {
	dec   *json.Decoder
	lines *lineCounter
	name  string
	array bool
	n     int   // rows read
	line  int64 // the line the last row read starts on
}

func newJSONRows(r io.Reader, name string, array bool) (*jsonRows, error) {
	lines := &lineCounter{r: r}
	dec := json.NewDecoder(lines)
	dec.UseNumber()
	j := &jsonRows{dec: dec, lines: lines, name: name, array: array}
	if array {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty input: a JSON file must hold one array of objects", name)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if tok != json.Delim('[') {
			return nil, fmt.Errorf("%s: a JSON file must hold one array of objects, not %s", name, describeToken(tok))
		}
	}
	return j, nil
}

// Next returns the next row, or io.EOF after the last.
func (j *jsonRows) Next() (client.Row, error) {
	if j.array && !j.dec.More() {
		return nil, j.endArray()
	}
	j.n++
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) && !j.array {
			return nil, io.EOF
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, j.errorf("%v", err)
	}
	// raw is the value without the white space around it, and the decoder
	// has read up to its end.
	j.line = j.lines.lineAt(j.dec.InputOffset() - int64(len(raw)))
	return j.object(raw)
}

// endArray consumes the closing bracket and insists nothing follows it.
func (j *jsonRows) endArray() error {
	if _, err := j.dec.Token(); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("the input ends inside the array")
		}
		return fmt.Errorf("%s: after row %d: %v", j.name, j.n, err)
	}
	if tok, err := j.dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return fmt.Errorf("%s: after the array: %v", j.name, err)
		}
		return fmt.Errorf("%s: %s after the array; a JSON file must hold one array", j.name, describeToken(tok))
	}
	return io.EOF
}

func (j *jsonRows) object(raw json.RawMessage) (client.Row, error) {
	if raw[0] != '{' {
		return nil, j.errorf("want a JSON object, got %s", kindOf(raw))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, j.errorf("%v", err)
	}
	row := make(client.Row, len(fields))
	for k, v := range fields {
		val, err := jsonValue(v)
		if err != nil {
			return nil, j.errorf("%q: %v", k, err)
		}
		row[k] = val
	}
	return row, nil
}

// jsonValue maps one JSON value to a row value: null is nil, a string a
// string, a number its exact text (json.Number), an object or array its
// JSON text (json.RawMessage).
func jsonValue(raw json.RawMessage) (any, error) {
	switch raw[0] {
	case 'n':
		return nil, nil
	case 't', 'f':
		return raw[0] == 't', nil
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '{', '[':
		return raw, nil // Unmarshal gave each RawMessage its own copy
	default:
		return json.Number(raw), nil
	}
}

func kindOf(raw json.RawMessage) string {
	switch raw[0] {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '[':
		return "an array"
	default:
		return "a number"
	}
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return fmt.Sprintf("%q", string(t))
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// Pos is the line the last row read starts on.
func (j *jsonRows) Pos() int64 { return j.line }

// Place is "line N".
func (j *jsonRows) Place(pos int64, _ string) string { return linePlace(pos) }

// Where is the file and the number of the last row read.
func (j *jsonRows) Where() string { return fmt.Sprintf("%s: row %d", j.name, j.n) }

func (j *jsonRows) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: row %d: %s", j.name, j.n, fmt.Sprintf(format, args...))
}
