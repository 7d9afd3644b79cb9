package main

import "sort"

// maxBreaks bounds a posIndex: 64Ki breaks, 1 MiB.
const maxBreaks = 1 << 16

// posIndex maps a load's row index to the row's position in its source —
// the line it starts on (CSV, JSON) or its sheet row (Excel) — without
// keeping a position per row: rows almost always follow one another (the
// next row is on the next line), so it keeps only the breaks, the rows
// whose position is not the previous row's plus one (a CSV record with a
// quoted newline, a blank line, an empty sheet row skipped). It keeps at
// most maxBreaks of them; the rows after the last break it could keep have
// no known position (a second pass over the file finds them).
type posIndex struct {
	n    int64   // rows added
	last int64   // the position of the last row added
	rows []int64 // the breaks: row index ...
	pos  []int64 // ... and its position
	upTo int64   // with full: rows from here on have no known position
	full bool
}

// add records the position of the next row.
func (p *posIndex) add(pos int64) {
	switch {
	case p.full:
	case p.n > 0 && pos == p.last+1:
		p.last = pos
	case len(p.rows) == maxBreaks:
		p.full, p.upTo = true, p.n
	default:
		p.rows, p.pos = append(p.rows, p.n), append(p.pos, pos)
		p.last = pos
	}
	p.n++
}

// at is the position of row, and whether it is known.
func (p *posIndex) at(row int64) (int64, bool) {
	if row < 0 || row >= p.n || (p.full && row >= p.upTo) {
		return 0, false
	}
	i := sort.Search(len(p.rows), func(i int) bool { return p.rows[i] > row }) - 1
	return p.pos[i] + row - p.rows[i], true
}
