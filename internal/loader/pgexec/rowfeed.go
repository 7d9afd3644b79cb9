package pgexec

import (
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

// chunkReader is the COPY data of up to left rows from a rowFeed. A Read
// fills p from the current batch, but returns what it has rather than wait
// for the next: PostgreSQL starts on the first rows while the rest are
// decoded (a unary request) or still on the wire (a stream). An error of the
// source is kept in err, so the caller reports it rather than the COPY
// failure it causes.
type chunkReader struct {
	mu     sync.Mutex
	closed bool
	ctx    context.Context
	feed   *rowFeed
	left   int
	buf    []byte
	err    error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, io.EOF
	}
	for len(r.buf) < len(p) && r.left > 0 {
		if len(r.buf) > 0 && !r.feed.ready() {
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
		r.buf = loader.AppendCopyRow(r.buf, f.batch.Row(f.next), f.cols)
		if f.ordinal {
			r.buf = loader.AppendOrdinal(r.buf, f.batch.Offset+f.next)
		}
		if f.stamp != "" {
			r.buf = loader.AppendStamp(r.buf, f.stamp)
		}
		f.next++
		r.left--
	}
	if len(r.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.buf)
	r.buf = r.buf[:copy(r.buf, r.buf[n:])]
	return n, nil
}
