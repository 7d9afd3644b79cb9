package pgexec

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// verdictOf is the PostgreSQL error of err when it is a verdict on a row:
// a data exception (class 22) or an integrity violation (class 23). nil
// for anything else (a timeout, a lost connection, a cancel).
func verdictOf(err error) *pgconn.PgError {
	pg, ok := asPgError(err)
	if !ok || !(strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "23")) {
		return nil
	}
	return pg
}

// verdict is one bad value or row with the PostgreSQL error it raised;
// traced says the error was raised for another row of the same constraint
// (its detail is that row's, not this one's).
type verdict struct {
	loader.RowError
	pg     *pgconn.PgError
	traced bool
}

// verdicts is what a careful load found wrong with its rows.
type verdicts struct {
	budget int64
	cap    int
	hint   string // names the cap's setting
	found  []verdict
	rows   map[int64]bool // every bad row
	// staged are the bad rows found in the stage (by a constraint), which
	// each apply deletes from it first.
	staged []int64
	// truncated says the search stopped with more to look at, or found
	// more errors than cap.
	truncated bool
	// unexplained is a failure of the apply that no row explains, which
	// failed the load whatever its budget.
	unexplained *pgconn.PgError
}

func newVerdicts(cfg *loader.Config) *verdicts {
	return &verdicts{budget: cfg.MaxRejectedRows, cap: cfg.RowErrorCap(), hint: cfg.MaxRowErrorsHint, rows: make(map[int64]bool)}
}

// add records v; beyond the cap the row still counts.
func (b *verdicts) add(v verdict) {
	if !b.rows[v.Row] {
		b.rows[v.Row] = true
		if v.traced {
			b.staged = append(b.staged, v.Row)
		}
	}
	if len(b.found) >= b.cap {
		b.truncated = true
		return
	}
	v.Value = loader.CapValue(v.Value)
	b.found = append(b.found, v)
}

// done says the search may stop: the load fails whatever else is found,
// and the errors fill the cap.
func (b *verdicts) done() bool {
	return int64(len(b.rows)) > b.budget && len(b.found) >= b.cap
}

// stop marks the search stopped early.
func (b *verdicts) stop() { b.truncated = true }

// outcome is the end of a careful load: with no bad row nil; with at most
// the budget, the rejected rows in res and nil; else the failure naming
// every bad row found, with the first one's code. clean is the failure of
// the clean path that the careful run followed, if any: it was raised by
// the first row that broke its constraint, so its detail is that row's.
func (b *verdicts) outcome(res *loader.Result, clean error) error {
	if len(b.rows) == 0 {
		return nil
	}
	// In row order, keeping the order found within a row: the first row's
	// own verdict sets the code.
	slices.SortStableFunc(b.found, func(x, y verdict) int { return cmp.Compare(x.Row, y.Row) })
	errs := make([]loader.RowError, len(b.found))
	for i := range b.found {
		errs[i] = b.found[i].RowError
	}
	if int64(len(b.rows)) <= b.budget {
		res.RejectedRows, res.Rejected = int64(len(b.rows)), errs
		return nil
	}
	first := b.found[0]
	le := classify(context.Background(), first.pg, false)
	le.Message, le.Column, le.Constraint = first.Message, first.Column, first.Constraint
	if first.traced {
		le.Detail = "" // another row's, unless the clean path's failure was this one
		if pg, ok := asPgError(clean); ok && pg.Code == first.SQLState && pg.ConstraintName == first.Constraint {
			le.Detail = pg.Detail
		}
	}
	// The message stays PostgreSQL's for the first bad row, as a load that
	// failed on it always said; the rows are in the detail. Only what is
	// new to a load says more: a budget, a list cut at the cap, a failure
	// no row explains.
	if b.budget > 0 {
		le.Message += fmt.Sprintf("; %d bad rows, more than max_rejected_rows=%d, so nothing was written", len(b.rows), b.budget)
	}
	if len(b.found) >= b.cap && b.truncated {
		le.Message += fmt.Sprintf("; the RowErrors detail lists the first %d bad values found", b.cap)
		if b.hint != "" {
			le.Message += " (" + b.hint + ")"
		}
	}
	if u := b.unexplained; u != nil {
		le.Message += "; and the apply failed on no row in particular: " + u.Message
	}
	le.Rows = &loader.RowErrors{Errors: errs, Truncated: b.truncated, Rows: int64(len(b.rows))}
	return le
}
