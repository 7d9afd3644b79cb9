package loader

import (
	"context"
	"errors"
	"io"
)

// Source yields a load's rows batch by batch; every batch has the columns of
// the first. Next returns io.EOF after the last.
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

// intake is where every batch of a load enters, whichever RPC carried it:
// it skips empty batches, holds them to the first batch's columns, checks
// key values, enforces the row limit, counts the rows and feeds the payload
// digest of a load with a request id. The first batch is taken by start,
// before any connection, so that a bad first batch costs no session.
type intake struct {
	cfg     *Config
	src     Source
	first   *Batch // taken by start, handed out by the first Next
	columns []string
	keys    []int // positions of the key columns (keyed modes)
	rows    int
	digest  *digest
}

func newIntake(cfg *Config, src Source) *intake {
	in := &intake{cfg: cfg, src: src}
	if cfg.RequestID != "" {
		in.digest = newDigest(cfg)
	}
	return in
}

// start takes the first batch with rows; false means the load has none.
func (in *intake) start(ctx context.Context) (bool, error) {
	b, err := in.next(ctx)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	in.first = b
	return err == nil, err
}

// Next returns the next batch with rows, checked and counted. The source's
// own failures come wrapped, so that the session passes them through
// instead of classifying them as the database's.
func (in *intake) Next(ctx context.Context) (*Batch, error) {
	if b := in.first; b != nil {
		in.first = nil
		return b, nil
	}
	b, err := in.next(ctx)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &sourceError{err}
	}
	return b, err
}

func (in *intake) next(ctx context.Context) (*Batch, error) {
	for {
		b, err := in.src.Next(ctx)
		if err != nil {
			return nil, err
		}
		if b.Len() == 0 {
			continue
		}
		return b, in.accept(b)
	}
}

// accept checks a batch against the first: the same columns, key values
// present, the row limit kept.
func (in *intake) accept(b *Batch) error {
	if in.columns == nil {
		in.columns = b.Columns
		if len(in.cfg.Keys) > 0 {
			keys, err := KeyIndexes(b, in.cfg.Keys)
			if err != nil {
				return err
			}
			in.keys = keys
		}
	} else if err := SameColumns(in.columns, b); err != nil {
		return err
	}
	if in.keys != nil {
		if err := CheckKeys(b, in.cfg.Keys, in.keys); err != nil {
			return err
		}
	}
	in.rows += b.Len()
	if err := in.cfg.CheckRows(in.rows); err != nil {
		return err
	}
	if in.digest != nil {
		in.digest.add(b)
	}
	return nil
}

// drain reads the rest of the source, for the digest of a replayed load.
func (in *intake) drain(ctx context.Context) error {
	for {
		_, err := in.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// sourceError is a failure of the rows' source (a bad row, a broken or idle
// stream) rather than of the database: it passes through as it is.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }
