package main

import (
	"context"
	"fmt"
	"math/big"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// (h) pgx CopyFrom, binary, of the rows held as Go values, straight into the
// empty table: no service in between. It is the floor of (c).
func (b *bench) pgxCopy(ctx context.Context) (*figure, error) {
	f := &figure{key: "pgx_copy", label: "pgx CopyFrom (binary) of Go values, no service in between", rows: b.data.rows, baseline: "copy"}
	err := b.measure(ctx, f, 0, b.fresh, true, func() error {
		n, err := b.db.conn.CopyFrom(ctx, pgx.Identifier{tableName}, columns, newNavSource(b.data.navRows))
		if err != nil {
			return err
		}
		if n != int64(f.rows) {
			return fmt.Errorf("CopyFrom copied %d rows, want %d", n, f.rows)
		}
		return nil
	})
	return f, err
}

// navSource hands rows to CopyFrom as the Go values a program holding them
// would: a date, strings, and numerics as scaled integers. Values fills the
// same fields for every row, as CopyFrom encodes a row before it asks for the
// next.
type navSource struct {
	rows                   []row
	next                   int
	date                   pgtype.Date
	plan, company, source  string
	returnRate, nav, scale pgtype.Numeric
	values                 []any
}

func newNavSource(rows []row) *navSource {
	s := &navSource{
		rows:       rows,
		returnRate: pgtype.Numeric{Int: new(big.Int), Exp: -6, Valid: true},
		nav:        pgtype.Numeric{Int: new(big.Int), Exp: -4, Valid: true},
		scale:      pgtype.Numeric{Int: new(big.Int), Exp: -2, Valid: true},
	}
	s.values = []any{&s.date, &s.plan, &s.company, &s.returnRate, &s.nav, &s.scale, &s.source}
	return s
}

func (s *navSource) Next() bool {
	s.next++
	return s.next <= len(s.rows)
}

func (s *navSource) Values() ([]any, error) {
	w := &s.rows[s.next-1]
	s.date = pgtype.Date{Time: keyTexts().days[w.day], Valid: true}
	s.plan, s.company, s.source = w.planCode(), w.compCode(), w.source
	s.returnRate.Int.SetInt64(w.returnRate)
	s.nav.Int.SetInt64(w.nav)
	s.scale.Int.SetInt64(w.scale)
	return s.values, nil
}

func (s *navSource) Err() error { return nil }

var _ pgx.CopyFromSource = (*navSource)(nil)
