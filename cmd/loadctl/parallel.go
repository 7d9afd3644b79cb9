package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// maxParallel bounds --parallel: each writer holds up to two batches.
const maxParallel = 64

// abortTimeout bounds the AbortLoad that drops a failed parallel load's
// session (the session would expire with its ttl anyway).
const abortTimeout = 10 * time.Second

// checkParallel refuses --parallel values and combinations a load session
// cannot run.
func (o *loadOptions) checkParallel() error {
	switch {
	case o.parallel < 0 || o.parallel > maxParallel:
		return usageErrorf("--parallel must be from 1 to %d writers (0: one stream), got %d", maxParallel, o.parallel)
	case o.parallel > 0 && o.plan:
		return usageErrorf("--parallel and --plan do not go together: a plan is one request; drop --parallel")
	case o.parallel > 0 && o.dryRun:
		return usageErrorf("--parallel and --dry-run do not go together: a load session always writes when it commits; drop --parallel for a dry run")
	}
	return nil
}

// load sends the rows over one LoadStream, or with --parallel N through a
// load session of N writers; loc records where each row is in the source,
// and for a session how the service numbers its rows.
func (o *loadOptions) load(ctx context.Context, c *client.Client, cfg *loadsvcv1.LoadConfig, src rowSource, prog *progress, loc *locator) (*loadsvcv1.LoadResponse, error) {
	if o.parallel == 0 {
		return streamLoad(ctx, c, cfg, src, prog, loc.idx)
	}
	resp, err := parallelLoad(ctx, c, cfg, &indexedSource{rowSource: src, idx: loc.idx}, o.parallel, prog)
	order := &sessionOrder{writers: o.parallel, batch: client.DefaultBatchRows, rows: loc.idx.n} // every row read was dealt
	loc.fileRow = order.fileRow
	if ae := (*appendError)(nil); errors.As(err, &ae) {
		loc.fileRow = func(off int64) int64 { return order.writerRow(ae.writer, off) }
	}
	return resp, err
}

// appendError is the failure of writer k's append, whose row errors count
// that writer's rows.
type appendError struct {
	writer int
	err    error
}

func (e *appendError) Error() string {
	return fmt.Sprintf("writer %s: %v", writerName(e.writer), e.err)
}
func (e *appendError) Unwrap() error { return e.err }

// indexedSource records the position of every row read from its source.
type indexedSource struct {
	rowSource
	idx *posIndex
}

func (s *indexedSource) Next() (client.Row, error) {
	row, err := s.rowSource.Next()
	if err == nil {
		s.idx.add(s.Pos())
	}
	return row, err
}

// parallelLoad loads the rows through one load session: it reads the
// input once, as a stream, and deals its batches of client.DefaultBatchRows
// rows in turn to n writers ("part-1" … "part-N"), which append them in
// parallel, each at its own offsets; then one commit applies every row in
// one transaction. Memory holds at most two batches per writer. A failure
// or a cancel aborts the session: nothing is written.
func parallelLoad(ctx context.Context, c *client.Client, cfg *loadsvcv1.LoadConfig, src rowSource, n int, prog *progress) (*loadsvcv1.LoadResponse, error) {
	s, err := c.BeginLoad(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errCancelled
		}
		return nil, err
	}
	if err := appendParallel(ctx, s, src, n, prog); err != nil {
		abortSession(ctx, s)
		if ctx.Err() != nil {
			return nil, errCancelled
		}
		return nil, err
	}
	prog.AllRead()
	resp, err := s.Commit(ctx)
	if err != nil {
		abortSession(ctx, s)
		if ctx.Err() != nil {
			return nil, errCancelledLate
		}
		return nil, err
	}
	return resp, nil
}

// abortSession drops the session of a load that failed, even when ctx was
// cancelled; an error is left to the session's expiry.
func abortSession(ctx context.Context, s *client.Session) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_ = s.Abort(ctx)
}

// appendParallel reads src in batches and hands batch i to writer i mod n.
// The first error — reading the input, or any writer's append — stops
// them all and is returned.
func appendParallel(ctx context.Context, s *client.Session, src rowSource, n int, prog *progress) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	parts := make([]chan []client.Row, n)
	var wg sync.WaitGroup
	for k := range parts {
		parts[k] = make(chan []client.Row, 1)
		writer := writerName(k)
		wg.Go(func() {
			for batch := range parts[k] {
				if _, err := s.Append(ctx, writer, batch); err != nil {
					cancel(&appendError{writer: k, err: err})
					return
				}
				prog.Add(int64(len(batch)))
			}
		})
	}
	if err := deal(ctx, src, parts); err != nil {
		cancel(err)
	}
	for _, p := range parts {
		close(p)
	}
	wg.Wait()
	return context.Cause(ctx)
}

// deal sends src's batches to parts in turn, until the input ends, a read
// fails (its error) or ctx is done (nil: the cause is ctx's).
func deal(ctx context.Context, src rowSource, parts []chan []client.Row) error {
	for i := 0; ; i++ {
		batch, err := readBatch(src, client.DefaultBatchRows)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if len(batch) > 0 {
			select {
			case parts[i%len(parts)] <- batch:
			case <-ctx.Done():
				return nil
			}
		}
		if err != nil {
			return nil
		}
	}
}

// readBatch reads up to size rows; io.EOF comes with the last rows, or
// none.
func readBatch(src rowSource, size int) ([]client.Row, error) {
	batch := make([]client.Row, 0, size)
	for len(batch) < size {
		row, err := src.Next()
		if err != nil {
			return batch, err
		}
		batch = append(batch, row)
	}
	return batch, nil
}
