package loader

import (
	"context"
	"io"
)

// Source yields a load's rows batch by batch; every batch has the columns of
// the first. Next returns io.EOF after the last. A batch is the caller's
// until its next call to Next, when a source may reuse the batch's memory
// (a unary request's JSON rows do).
type Source interface {
	Next(ctx context.Context) (*Batch, error)
}

// OneBatch is the Source of a unary request: its one batch, then io.EOF.
func OneBatch(b *Batch) Source {
	return &oneBatch{batch: b}
}

// Replayer is a Source whose rows can be read again from the first: a
// unary request's, all in memory. A load that failed on a row reads them
// again to report every bad row.
type Replayer interface {
	Replay() Source
}

// Replay reads the one batch again.
func (s *oneBatch) Replay() Source { return OneBatch(s.batch) }

type oneBatch struct {
	batch *Batch
	done  bool
}

func (s *oneBatch) Next(context.Context) (*Batch, error) {
	if s.done || s.batch == nil {
		return nil, io.EOF
	}
	s.done = true
	return s.batch, nil
}
