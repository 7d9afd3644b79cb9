package pgexec

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// positions returns the index in from of each name of names.
func positions(from, names []string) []int {
	idx := make([]int, len(names))
	for i, n := range names {
		idx[i] = slices.Index(from, n)
	}
	return idx
}

// rowFeed walks a load's batches row by row for the COPY.
type rowFeed struct {
	src   loader.Source
	batch *loader.Batch
	next  int   // next row of batch
	cols  []int // positions of the written columns
	// ordinal appends each row's index in the load as a last COPY field.
	ordinal bool
	// stamp, when set, is the load id appended to each row as a last COPY
	// field (loader.Stamp).
	stamp string
}

// ready reports whether the current batch has a row left, so that more
// needs no fetch.
func (f *rowFeed) ready() bool { return f.batch != nil && f.next < f.batch.Len() }

// more reports whether a row is left, fetching the next batch when needed.
func (f *rowFeed) more(ctx context.Context) (bool, error) {
	for !f.ready() {
		b, err := f.fetch(ctx)
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		f.batch, f.next = b, 0
	}
	return true, nil
}

// fetch is the source's next batch. A panic of the source — on the COPY's
// goroutine, where nothing else would recover it — becomes a
// loader.PanicError, and the process lives.
func (f *rowFeed) fetch(ctx context.Context) (b *loader.Batch, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, &loader.PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return f.src.Next(ctx)
}

// pieceBytes bounds the COPY text of one COPY statement: a chunk whose rows
// take more is sent as several COPYs. The reader keeps the text of the
// COPY under way (a piece), so that the rows of a piece that fails can be
// staged again and searched for the bad ones, even those of a stream's
// earlier messages.
const pieceBytes = 4 << 20

// piece is the COPY text of consecutive rows of a load, first being the
// first one's index; ordinal says that each line ends with its row's index
// (Shape.Ordinal).
type piece struct {
	data    []byte
	first   int
	rows    int
	ordinal bool
	stamp   string // the load id that ends each line (a COPY into the target), or ""
}

// forStage returns p as a stage takes it: each line ending in its row's
// index, and without the load id that a COPY into the target ends it with
// (loader.AppendStamp), for which a stage has no column.
func (p *piece) forStage() *piece {
	if p.ordinal && p.stamp == "" {
		return p
	}
	out := &piece{data: make([]byte, 0, len(p.data)+8*p.rows), first: p.first, rows: p.rows, ordinal: true}
	ls := splitLines(p.data)
	for i := range ls.ends {
		line := ls.span(i, i+1)
		if p.stamp != "" {
			line = line[:len(line)-len(p.stamp)-1] // ending in the tab before the id
		}
		out.data = append(out.data, line...)
		out.data[len(out.data)-1] = '\n'
		if !p.ordinal {
			out.data = loader.AppendOrdinal(out.data, p.first+i)
		}
	}
	return out
}

// textLines is COPY text and where each of its lines ends: a newline inside
// a value is escaped, so every raw one ends a line.
type textLines struct {
	data []byte
	ends []int // ends[i] is the offset just past line i's newline
}

func splitLines(data []byte) textLines {
	t := textLines{data: data}
	for off := 0; off < len(data); {
		off += bytes.IndexByte(data[off:], '\n') + 1
		t.ends = append(t.ends, off)
	}
	return t
}

// span is the text of lines [i, j), without a copy.
func (t textLines) span(i, j int) []byte {
	start := 0
	if i > 0 {
		start = t.ends[i-1]
	}
	return t.data[start:t.ends[j-1]:t.ends[j-1]]
}

// chunkReader is the COPY data of up to left rows from a rowFeed, ending
// the piece once its text reaches max bytes (0: no bound). A Read fills p
// from the current batch, but returns what it has rather than wait for the
// next: PostgreSQL starts on the first rows while the rest are decoded (a
// unary request) or still on the wire (a stream). With keep, every line
// stays in kept until the COPY ends (the piece, to be searched if it
// fails); without, a line leaves kept once sent. An error of the source is
// kept in err, so the caller reports it rather than the COPY failure it
// causes.
type chunkReader struct {
	mu      sync.Mutex
	closed  bool
	ctx     context.Context
	feed    *rowFeed
	left    int
	max     int
	keep    bool
	kept    []byte // the piece's lines (with keep), or those not yet sent
	sent    int    // bytes of kept handed to the COPY
	dropped int    // bytes sent and dropped from kept (without keep)
	first   int    // the piece's first row
	rows    int    // the piece's rows
	err     error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, io.EOF
	}
	if !r.keep && r.sent > 0 {
		r.dropped += r.sent
		r.kept = r.kept[:copy(r.kept, r.kept[r.sent:])]
		r.sent = 0
	}
	for len(r.kept)-r.sent < len(p) && r.left > 0 && (r.max == 0 || r.dropped+len(r.kept) < r.max) {
		if len(r.kept) > r.sent && !r.feed.ready() {
			break // what is ready goes now, not after the next batch is fetched or decoded
		}
		more, err := r.feed.more(r.ctx)
		if err != nil {
			r.err = err
			return 0, err
		}
		if !more {
			break
		}
		f := r.feed
		if r.rows == 0 {
			r.first = f.batch.Offset + f.next
		}
		r.kept = loader.AppendCopyRow(r.kept, f.batch.Row(f.next), f.cols)
		if f.ordinal {
			r.kept = loader.AppendOrdinal(r.kept, f.batch.Offset+f.next)
		}
		if f.stamp != "" {
			r.kept = loader.AppendStamp(r.kept, f.stamp)
		}
		f.next++
		r.left--
		r.rows++
	}
	if r.sent == len(r.kept) {
		return 0, io.EOF
	}
	n := copy(p, r.kept[r.sent:])
	r.sent += n
	return n, nil
}

// piece is what the reader sent: the piece's rows, ownership passing to
// the caller; without keep, its data holds none of them, only memory to
// use again.
func (r *chunkReader) piece() *piece {
	data := r.kept
	if !r.keep {
		data = data[:0]
	}
	return &piece{data: data, first: r.first, rows: r.rows, ordinal: r.feed.ordinal, stamp: r.feed.stamp}
}
