package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// sourceRow is a row of the load found again in its source: its position
// and, when asked for, its values.
type sourceRow struct {
	pos int64
	row client.Row
}

// locator finds the rows a service names by their index in the load: in
// the source's position index, or by reading the source again (a file, or
// standard input spooled to one) for what the index does not know and for
// the rows' values.
type locator struct {
	in  *input
	ro  readOptions
	src rowSource // the first pass's reader: names positions (Place)
	idx *posIndex
}

// find returns the rows of errs by their index: their positions, and their
// values too when values is set (which takes a second pass over the
// source). A row it cannot find is missing from the map.
func (l *locator) find(errs []*loadsvcv1.RowError, values bool) (map[int64]sourceRow, error) {
	found := make(map[int64]sourceRow, len(errs))
	var again []int64
	for _, e := range errs {
		if pos, ok := l.idx.at(e.GetRow()); ok && !values {
			found[e.GetRow()] = sourceRow{pos: pos}
		} else {
			again = append(again, e.GetRow())
		}
	}
	switch {
	case len(again) == 0:
		return found, nil
	case !l.in.rereadable() && values:
		return nil, errors.New("the rows' values cannot be read again: the input is not a file")
	case !l.in.rereadable():
		return found, nil
	}
	slices.Sort(again)
	return found, l.reread(slices.Compact(again), found)
}

// reread reads the source again from its start and keeps the rows whose
// index is in want (sorted), with their positions.
func (l *locator) reread(want []int64, found map[int64]sourceRow) error {
	src, closeSrc, err := l.in.reread(l.ro)
	if err != nil {
		return err
	}
	defer closeSrc()
	for i := int64(0); len(want) > 0; i++ {
		row, err := src.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s ends at row %d, before row %d: it changed since it was loaded", l.in.name, i, want[0])
		}
		if err != nil {
			return err
		}
		if i == want[0] {
			found[i] = sourceRow{pos: src.Pos(), row: row}
			want = want[1:]
		}
	}
	return nil
}

// place is where a row error is in the source, "line 12" or "净值!C512";
// "row N of the load" (1-based) for a row it could not find.
func (l *locator) place(e *loadsvcv1.RowError, rows map[int64]sourceRow) string {
	r, ok := rows[e.GetRow()]
	if !ok {
		return fmt.Sprintf("row %d of the load", e.GetRow()+1)
	}
	return l.src.Place(r.pos, e.GetColumn())
}

// describe is one bad value or row as loadctl prints it: its place, the
// column, the value and PostgreSQL's reason, with the SQLSTATE.
func describe(place string, e *loadsvcv1.RowError) string {
	var b strings.Builder
	b.WriteString(place)
	if e.GetColumn() != "" {
		fmt.Fprintf(&b, ", column %q", e.GetColumn())
	}
	if e.GetValue() != "" {
		fmt.Fprintf(&b, ", value %q", e.GetValue())
	}
	fmt.Fprintf(&b, ": %s", e.GetMessage())
	if e.GetSqlstate() != "" {
		fmt.Fprintf(&b, " (SQLSTATE %s)", e.GetSqlstate())
	}
	return b.String()
}

// describeAll is the lines of errs, each placed in the source.
func (l *locator) describeAll(errs []*loadsvcv1.RowError) ([]string, error) {
	rows, err := l.find(errs, false)
	if err != nil {
		return nil, err
	}
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = describe(l.place(e, rows), e)
	}
	return lines, nil
}

// badRowsError is a load refused for its rows: the service's error, and
// one line per bad value or row, placed in the source.
type badRowsError struct {
	err       error
	lines     []string
	truncated bool
}

func (e *badRowsError) Error() string { return e.err.Error() }
func (e *badRowsError) Unwrap() error { return e.err }

// withPlaces is err, when the service refused the load for its rows, as a
// badRowsError naming each bad row's place in the source.
func (l *locator) withPlaces(err error) error {
	e, ok := client.AsError(err)
	if !ok || len(e.RowErrors) == 0 {
		return err
	}
	lines, perr := l.describeAll(e.RowErrors)
	if perr != nil {
		return fmt.Errorf("%w (and finding the bad rows in %s: %v)", err, l.in.name, perr)
	}
	return &badRowsError{err: err, lines: lines, truncated: e.RowErrorsTruncated}
}

// printBadRows writes the lines of a badRowsError, one per bad value or
// row.
func printBadRows(w io.Writer, e *badRowsError) {
	for _, line := range e.lines {
		fmt.Fprintln(w, line)
	}
	if e.truncated {
		fmt.Fprintf(w, "loadctl: the service found more bad rows than the %d it lists (its LOADSVC_MAX_ROW_ERRORS)\n", len(e.lines))
	}
}
