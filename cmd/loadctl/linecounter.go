package main

import (
	"bytes"
	"io"
)

// lineCounter passes a stream through and notes where its newlines are, so
// that a reader above it (a JSON decoder, with its own read-ahead) can tell
// the line of a byte offset it has reached. It keeps only the newlines not
// yet passed by an offset asked for: those of the read-ahead.
type lineCounter struct {
	r     io.Reader
	off   int64   // bytes passed through
	nl    []int64 // offsets of the newlines passed, not yet behind an offset asked for
	lines int64   // newlines behind the last offset asked for
}

func (l *lineCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		l.nl = append(l.nl, l.off+int64(i+j))
		i += j + 1
	}
	l.off += int64(n)
	return n, err
}

// lineAt is the line (1-based) of the byte at off, which is never less than
// the offset of the previous call.
func (l *lineCounter) lineAt(off int64) int64 {
	k := 0
	for k < len(l.nl) && l.nl[k] < off {
		k++
	}
	l.lines += int64(k)
	l.nl = l.nl[k:]
	return l.lines + 1
}
