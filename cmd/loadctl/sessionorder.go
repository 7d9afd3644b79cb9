package main

import (
	"fmt"
	"slices"
	"strings"
)

// sessionOrder maps the row index the service gives a row of a --parallel
// load to the row's index in the file. The file's rows are dealt in batches
// of batch rows in turn to writers part-1 … part-N (batch i to writer i mod
// N), and the service numbers a session's rows writer by writer, in the
// order of the writers' names, each writer's in the order of its offsets.
type sessionOrder struct {
	writers int
	batch   int
	rows    int64 // rows dealt
	byName  []int // the writers in the order of their names; nameOrder fills it
}

// nameOrder is the writers (0-based) in the order of their names, as the
// service numbers a session's rows; worked out once, not per row error.
func (s *sessionOrder) nameOrder() []int {
	if s.byName == nil {
		s.byName = make([]int, s.writers)
		for k := range s.byName {
			s.byName[k] = k
		}
		slices.SortFunc(s.byName, func(a, b int) int { return strings.Compare(writerName(a), writerName(b)) })
	}
	return s.byName
}

// writerName is the name of writer k (0-based) of a --parallel load.
func writerName(k int) string { return fmt.Sprintf("part-%d", k+1) }

// fileRow is the file's index of the session's row r, or -1.
func (s *sessionOrder) fileRow(r int64) int64 {
	for _, k := range s.nameOrder() {
		if n := s.rowsOf(k); r >= n {
			r -= n
			continue
		}
		return s.writerRow(k, r)
	}
	return -1
}

// writerRow is the file's index of writer k's row at offset off: an
// append's row errors count the writer's own rows.
func (s *sessionOrder) writerRow(k int, off int64) int64 {
	size, n := int64(s.batch), int64(s.writers)
	return (off/size*n+int64(k))*size + off%size
}

// rowsOf is how many rows writer k appended.
func (s *sessionOrder) rowsOf(k int) int64 {
	size, n := int64(s.batch), int64(s.writers)
	batches := (s.rows + size - 1) / size
	if int64(k) >= batches {
		return 0
	}
	mine := (batches - int64(k) + n - 1) / n
	rows := mine * size
	if (batches-1)%n == int64(k) { // the last batch, maybe short, is this writer's
		rows -= batches*size - s.rows
	}
	return rows
}
