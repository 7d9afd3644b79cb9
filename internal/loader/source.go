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
