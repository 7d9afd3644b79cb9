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
	// fileRow maps the service's row index to the row's index in the
	// file, when they differ (a --parallel load's session); nil: the same.
	fileRow func(int64) int64
}

// row is the file's index of a row error's row.
func (l *locator) row(e *loadsvcv1.RowError) int64 {
	if l.fileRow == nil {
		return e.GetRow()
	}
	return l.fileRow(e.GetRow())
}

// find returns the rows of errs by their index: their positions, and their
// values too when values is set (which takes a second pass over the
// source). A row it cannot find is missing from the map, and the error
// says why.
func (l *locator) find(errs []*loadsvcv1.RowError, values bool) (map[int64]sourceRow, error) {
	found := make(map[int64]sourceRow, len(errs))
	var again []int64
	for _, e := range errs {
		if pos, ok := l.idx.at(l.row(e)); ok && !values {
			found[l.row(e)] = sourceRow{pos: pos}
		} else if l.row(e) >= 0 {
			again = append(again, l.row(e))
		}
	}
	switch {
	case len(again) == 0:
		return found, nil
	case !l.in.rereadable():
		return found, fmt.Errorf("%s cannot be read again to find the rows past loadctl's index of positions", l.in.name)
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
			return fmt.Errorf("%s ends at row %d, before row %d: has it changed since it was loaded?", l.in.name, i+1, want[0]+1)
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
	r, ok := rows[l.row(e)]
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

// describeAll is the lines of errs, each placed in the source, and why
// some could not be placed, if any could not.
func (l *locator) describeAll(errs []*loadsvcv1.RowError) ([]string, error) {
	rows, err := l.find(errs, false)
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = describe(l.place(e, rows), e)
	}
	return lines, err
}

// badRowsError is a load refused for its rows: the service's error, and
// one line per bad value or row, placed in the source.
type badRowsError struct {
	err       error
	lines     []string
	truncated bool
	unplaced  error // why some rows could not be placed, if any
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
	lines, unplaced := l.describeAll(e.RowErrors)
	return &badRowsError{err: e, lines: lines, truncated: e.RowErrorsTruncated, unplaced: unplaced}
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
	if e.unplaced != nil {
		fmt.Fprintf(w, "loadctl: some rows are named by their place in the load only: %v\n", e.unplaced)
	}
}
