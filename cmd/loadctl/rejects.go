package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// columnLister is a source whose columns are known in order: a CSV
// header, a sheet's header row.
type columnLister interface{ Columns() []string }

// rejectColumns are the columns a rejects file adds after the source's.
var rejectColumns = []string{"position", "column", "sqlstate", "reason"}

// writeRejects writes the rejected rows to path as CSV (psql's COPY … CSV
// HEADER conventions: an unquoted empty field is NULL, "" the empty
// string): the source's columns with the rows' original values, then each
// row's place in the source, the columns, SQLSTATEs and reasons of what
// was wrong with it ("; " between several). One record per row, in row
// order; the rows are found again in the source (a second pass).
func writeRejects(path string, l *locator, rejected []*loadsvcv1.RowError) error {
	rows, err := l.find(rejected, true)
	if err != nil {
		return fmt.Errorf("--rejects %s: the rejected rows could not be read again: %w", path, err)
	}
	cols := sourceColumns(l.src, rows)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--rejects: %w", err)
	}
	w := bufio.NewWriter(f)
	writeRecord(w, append(slices.Clone(cols), extraColumns(cols)...), nil)
	for _, group := range byRow(rejected) {
		r := rows[l.row(group[0])]
		rec := make([]string, 0, len(cols)+len(rejectColumns))
		null := make([]bool, 0, cap(rec))
		for _, c := range cols {
			text, isNull := cellText(r.row[c])
			rec, null = append(rec, text), append(null, isNull)
		}
		var places, columns, states, reasons []string
		for _, e := range group {
			places = append(places, l.place(e, rows))
			columns, states, reasons = append(columns, e.GetColumn()), append(states, e.GetSqlstate()), append(reasons, e.GetMessage())
		}
		for _, s := range [][]string{places, columns, states, reasons} {
			text := strings.Join(s, "; ")
			rec, null = append(rec, text), append(null, strings.Trim(text, "; ") == "")
		}
		writeRecord(w, rec, null)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("--rejects: %w", err)
	}
	return f.Close()
}

// sourceColumns is the source's columns in order, or for JSON (whose rows
// need not share their keys) the sorted union of the rows' keys.
func sourceColumns(src rowSource, rows map[int64]sourceRow) []string {
	if cl, ok := src.(columnLister); ok {
		return cl.Columns()
	}
	var cols []string
	for _, r := range rows {
		for k := range r.row {
			cols = append(cols, k)
		}
	}
	slices.Sort(cols)
	return slices.Compact(cols)
}

// extraColumns is rejectColumns, each prefixed with "_" as often as it
// takes to differ from the source's columns.
func extraColumns(cols []string) []string {
	out := make([]string, len(rejectColumns))
	for i, name := range rejectColumns {
		for slices.Contains(cols, name) {
			name = "_" + name
		}
		out[i] = name
	}
	return out
}

// byRow groups row errors (in row order) by row.
func byRow(errs []*loadsvcv1.RowError) [][]*loadsvcv1.RowError {
	var groups [][]*loadsvcv1.RowError
	for _, e := range errs {
		if n := len(groups); n > 0 && groups[n-1][0].GetRow() == e.GetRow() {
			groups[n-1] = append(groups[n-1], e)
			continue
		}
		groups = append(groups, []*loadsvcv1.RowError{e})
	}
	return groups
}

// cellText is a row value as the source had it, and whether it is NULL.
func cellText(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, false
	case bool:
		return strconv.FormatBool(v), false
	case json.Number:
		return v.String(), false
	case json.RawMessage:
		return string(v), false
	default:
		return fmt.Sprint(v), false
	}
}

// writeRecord writes one CSV record: a NULL field (null[i]) as nothing, a
// field that is empty or holds a comma, quote or line break quoted.
func writeRecord(w *bufio.Writer, fields []string, null []bool) {
	for i, f := range fields {
		if i > 0 {
			w.WriteByte(',')
		}
		switch {
		case null != nil && null[i]:
		case f == "" || strings.ContainsAny(f, ",\"\r\n"):
			w.WriteString(`"` + strings.ReplaceAll(f, `"`, `""`) + `"`)
		default:
			w.WriteString(f)
		}
	}
	w.WriteString("\n")
}

// Columns is the header's columns, in order.
func (c *csvRows) Columns() []string { return c.columns }

// Columns is the header row's columns, in sheet order.
func (x *xlsxRows) Columns() []string {
	cols := make([]int, 0, len(x.columns))
	for col := range x.columns {
		cols = append(cols, col)
	}
	slices.Sort(cols)
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = x.columns[col]
	}
	return names
}
