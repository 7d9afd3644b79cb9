package loader

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jackc/pgx/v5"
)

// load runs one load's statements inside the session's transaction: the
// catalog check, the statements before the rows, one COPY per chunk, and the
// statements after. A keyed load that compares keys numbers its rows in the
// stage, where duplicates are found or dropped with PostgreSQL's equality.
func (s *session) load(ctx context.Context, cfg *Config, in *intake, res *Result) error {
	s.cfg = cfg
	rows := &rowFeed{src: in}
	if more, err := rows.more(ctx); err != nil || !more {
		return err
	}
	dctx, cancel := s.bound(ctx)
	table, err := Describe(dctx, s.conn, cfg)
	cancel()
	if err != nil {
		return err
	}
	write, skipped, err := table.Writable(cfg, in.columns)
	if err != nil {
		return err
	}
	if len(write) == 0 {
		return invalid("rows", -1, "the rows carry only columns that %s generates itself (%s); there is nothing to write", cfg.Target(), quoteList("", skipped))
	}
	res.SkippedColumns = skipped
	rows.cols = positions(in.columns, write)
	rows.ordinal = cfg.compares()
	sc := render(cfg, Shape{Columns: write, Unique: table.UniqueOnKeys, Lock: cfg.locks(), Ordinal: rows.ordinal})
	for _, st := range sc.pre {
		if err := s.run(ctx, st, res); err != nil {
			return err
		}
	}
	n, err := s.copyAll(ctx, cfg, sc, rows, res)
	if err != nil {
		return err
	}
	for _, st := range sc.post {
		// res.DuplicatesDropped holds the rows dropped from the stage by
		// the statements before this one.
		if err := s.run(ctx, st.withRows(int64(n)-res.DuplicatesDropped), res); err != nil {
			return err
		}
	}
	if cfg.Mode == ModeInsertMissing {
		res.Skipped = int64(n) - res.DuplicatesDropped - res.Inserted
	}
	return nil
}

// copyAll copies the rows in chunks of cfg.ChunkSize, one COPY each, and
// returns the number of rows copied.
func (s *session) copyAll(ctx context.Context, cfg *Config, sc script, rows *rowFeed, res *Result) (int, error) {
	total := 0
	for {
		more, err := rows.more(ctx)
		if err != nil {
			return total, err
		}
		if !more {
			return total, nil
		}
		st := sc.copyOf(total, 0)
		tag, err, rerr := s.copyChunk(ctx, st.SQL, rows, cfg.ChunkSize)
		if rerr != nil {
			return total, rerr // the source failed: a bad row, a broken stream
		}
		if err != nil {
			return total, err
		}
		st.Rows = tag.RowsAffected()
		total += int(st.Rows)
		res.Batches++
		res.Statements = append(res.Statements, st)
		if st.role == roleCopyTarget {
			res.Inserted += st.Rows
		}
	}
}

// copyChunk runs one COPY of up to n rows of the feed. pgconn may return
// from CopyFrom (on a dead connection) while its goroutine is still inside
// the reader, so the reader gets a context of its own that is cancelled
// then, and is closed under its lock before the feed is touched again.
// rerr is the source's own failure, if it caused the COPY's.
func (s *session) copyChunk(ctx context.Context, sql string, rows *rowFeed, n int) (tag pgconn.CommandTag, err, rerr error) {
	rctx, cancel := context.WithCancel(ctx)
	r := &chunkReader{ctx: rctx, feed: rows, left: n}
	bctx, bcancel := s.bound(ctx)
	tag, err = s.conn.PgConn().CopyFrom(bctx, r, sql)
	bcancel()
	cancel()
	r.mu.Lock()
	r.closed = true
	rerr = r.err
	r.mu.Unlock()
	if errors.Is(rerr, context.Canceled) && ctx.Err() == nil && err != nil {
		rerr = nil // our own cancel after the COPY failed: report the COPY's error
	}
	return tag, err, rerr
}

// run executes one statement and adds its command tag to the counts.
func (s *session) run(ctx context.Context, st Statement, res *Result) error {
	res.Statements = append(res.Statements, st)
	switch st.role {
	case roleCountSkipped:
		qctx, cancel := s.bound(ctx)
		defer cancel()
		return s.conn.QueryRow(qctx, st.SQL, pgx.QueryExecModeSimpleProtocol).Scan(&res.Skipped)
	case roleFindDuplicate:
		return s.findDuplicate(ctx, st)
	}
	ectx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.conn.Exec(ectx, st.SQL)
	if err != nil {
		return err
	}
	switch st.role {
	case roleDelete:
		res.Deleted += tag.RowsAffected()
	case roleInsert:
		res.Inserted += tag.RowsAffected()
	case roleUpdate:
		res.Updated += tag.RowsAffected()
	case roleDropDuplicates:
		res.DuplicatesDropped += tag.RowsAffected()
	}
	return nil
}

// findDuplicate runs the stage's duplicate query and refuses the load when
// it finds a key given twice, naming both rows.
func (s *session) findDuplicate(ctx context.Context, st Statement) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, st.SQL, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		return rows.Err()
	}
	vals, err := rows.Values()
	if err != nil {
		return err
	}
	prev, row := vals[0].(int64), vals[1].(int64)
	parts := make([]string, len(vals)-2)
	for i, v := range vals[2:] {
		parts[i] = QuoteIdent(s.cfg.Keys[i]) + "=" + v.(string)
	}
	return duplicateKey(int(prev), int(row), parts)
}

// positions returns the index in from of each name of names.
func positions(from, names []string) []int {
	idx := make([]int, len(names))
	for i, n := range names {
		for j, f := range from {
			if f == n {
				idx[i] = j
				break
			}
		}
	}
	return idx
}

// rowFeed walks a load's batches row by row for the COPY.
type rowFeed struct {
	src   Source
	batch *Batch
	next  int   // next row of batch
	cols  []int // positions of the written columns
	// ordinal appends each row's index in the load as a last COPY field.
	ordinal bool
}

// more reports whether a row is left, fetching the next batch when needed.
func (f *rowFeed) more(ctx context.Context) (bool, error) {
	for f.batch == nil || f.next >= f.batch.Len() {
		b, err := f.src.Next(ctx)
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

// appendOrdinal adds a row's index in the load as the last field of the COPY
// line that ends buf.
func appendOrdinal(buf []byte, i int) []byte {
	buf[len(buf)-1] = '\t'
	buf = strconv.AppendInt(buf, int64(i), 10)
	return append(buf, '\n')
}

// chunkReader is the COPY data of up to left rows from a rowFeed. An error
// of the source is kept in err, so the caller reports it rather than the
// COPY failure it causes.
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
		more, err := r.feed.more(r.ctx)
		if err != nil {
			r.err = err
			return 0, err
		}
		if !more {
			break
		}
		f := r.feed
		r.buf = appendCopyRow(r.buf, f.batch.Row(f.next), f.cols)
		if f.ordinal {
			r.buf = appendOrdinal(r.buf, f.batch.Offset+f.next)
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
