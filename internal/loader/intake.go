package loader

import (
	"context"
	"errors"
	"io"
)

// Intake is where every batch of a load enters, whichever RPC carried it:
// it skips empty batches, holds them to the first batch's columns, checks
// key values, enforces the row limit, counts the rows and feeds the payload
// digest of a load with a request id. The first batch is taken by Start,
// before any connection, so that a bad first batch costs no session.
type Intake struct {
	cfg     *Config
	src     Source
	first   *Batch // taken by Start, handed out by the first Next
	columns []string
	keys    []int // positions of the key columns (keyed modes)
	rows    int
	digest  *digest
}

// NewIntake returns the intake of a load of cfg (already checked) whose
// rows come from src.
func NewIntake(cfg *Config, src Source) *Intake {
	in := &Intake{cfg: cfg, src: src}
	if cfg.RequestID != "" {
		in.digest = newDigest(cfg)
	}
	return in
}

// Start takes the first batch with rows; false means the load has none.
func (in *Intake) Start(ctx context.Context) (bool, error) {
	b, err := in.next(ctx)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	in.first = b
	return err == nil, err
}

// Next returns the next batch with rows, checked and counted. The source's
// own failures come wrapped in a SourceError, so that the executor passes
// them through instead of classifying them as the database's.
func (in *Intake) Next(ctx context.Context) (*Batch, error) {
	if b := in.first; b != nil {
		in.first = nil
		return b, nil
	}
	b, err := in.next(ctx)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &SourceError{err}
	}
	return b, err
}

func (in *Intake) next(ctx context.Context) (*Batch, error) {
	for {
		b, err := in.src.Next(ctx)
		if err != nil {
			return nil, err
		}
		if b.Len() == 0 {
			continue
		}
		err = in.accept(b)
		if ve := (*ValidationError)(nil); errors.As(err, &ve) && ve.Rows != nil {
			err = in.refuseKeys(ctx, b, ve)
		}
		return b, err
	}
}

// refuseKeys completes the refusal of rows without a key value with those
// of the rest of the source, up to RowErrorCap, so that one answer names
// them all; b is the batch refused. It reads no further than the load's
// row limit: rows the load could never take are not looked at.
func (in *Intake) refuseKeys(ctx context.Context, b *Batch, ve *ValidationError) error {
	found := ve.Rows
	limit := in.cfg.RowErrorCap()
	in.rows += b.Len()
	for !found.Truncated {
		b, err := in.src.Next(ctx)
		if err != nil {
			break // the end of the rows, or a failure that ends them: the refusal stands
		}
		in.rows += b.Len()
		if in.cfg.CheckRows(in.rows) != nil {
			break // past the row limit: the refusal stands, with the rows found before it
		}
		if SameColumns(in.columns, b) != nil {
			continue // its own refusal would come after this one
		}
		errs, more := MissingKeys(b, in.cfg.Keys, in.keys, limit-len(found.Errors))
		found.Errors = append(found.Errors, errs...)
		found.Truncated = more
	}
	return in.cfg.missingKeysError(found.Errors, found.Truncated)
}

// accept checks a batch against the first: the same columns, key values
// present, the row limit kept.
func (in *Intake) accept(b *Batch) error {
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
		if err := in.cfg.CheckKeys(b, in.keys); err != nil {
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

// Drain reads the rest of the source, for the digest of a replayed load.
func (in *Intake) Drain(ctx context.Context) error {
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

// Rows is the number of rows taken in so far.
func (in *Intake) Rows() int { return in.rows }

// Columns are the load's columns, fixed by its first batch; nil before it.
func (in *Intake) Columns() []string { return in.columns }

// Digest is the hash of the load's config and of the rows taken in so far,
// which the ledger records and compares; "" for a load without a request id.
func (in *Intake) Digest() string {
	if in.digest == nil {
		return ""
	}
	return in.digest.sum()
}
