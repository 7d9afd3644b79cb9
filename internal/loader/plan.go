package loader

import (
	"strings"
)

// Plan is a validated load: its config with defaults filled, its rows and
// what the planner knows of them without a database.
type Plan struct {
	Config Config
	Batch  *Batch
	// Rows is the number of rows the request carried, before duplicates
	// were dropped.
	Rows int
	// KeyTuples is the number of distinct key tuples (keyed modes).
	KeyTuples int
	// DuplicatesDropped counts rows dropped for a later row with the same key.
	DuplicatesDropped int
}

// NewPlan validates cfg and the rows of batch: every key column present and
// non-null in every row, and duplicate keys handled by cfg.Duplicates. It
// needs no database. A nil batch is a load with no rows.
func NewPlan(cfg Config, batch *Batch) (*Plan, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if batch == nil {
		batch = &Batch{}
	}
	p := &Plan{Config: cfg, Batch: batch, Rows: batch.Len()}
	if cfg.MaxRows > 0 && p.Rows > cfg.MaxRows {
		err := invalid("rows", -1, "the request carries %d rows, more than the limit of %d rows per request (LOADSVC_MAX_ROWS); split it or use LoadStream", p.Rows, cfg.MaxRows)
		err.Limit = true
		return nil, err
	}
	if p.Rows == 0 || !cfg.Mode.keyed() && len(cfg.Keys) == 0 {
		return p, nil
	}
	keys, err := KeyIndexes(batch, cfg.Keys)
	if err != nil {
		return nil, err
	}
	if err := CheckKeys(batch, cfg.Keys, keys); err != nil {
		return nil, err
	}
	return p, p.dedupe(keys)
}

// KeyIndexes returns the positions of keys in batch's columns, refusing a key
// that no row carries.
func KeyIndexes(batch *Batch, keys []string) ([]int, error) {
	idx := make([]int, len(keys))
	for i, k := range keys {
		idx[i] = batch.ColumnIndex(k)
		if idx[i] < 0 && batch.Len() > 0 {
			return nil, invalid(rowField(batch.Offset, k), batch.Offset,
				"row %d has no value for key column %s", batch.Offset, QuoteIdent(k))
		}
	}
	return idx, nil
}

// CheckKeys refuses the first row whose value for a key column is missing or
// null, naming the row and the column.
func CheckKeys(batch *Batch, keys []string, idx []int) error {
	for i := 0; i < batch.Len(); i++ {
		row := batch.Row(i)
		for j, k := range idx {
			if row[k].Null {
				n := batch.Offset + i
				return invalid(rowField(n, keys[j]), n, "row %d has no value for key column %s (missing or null)", n, QuoteIdent(keys[j]))
			}
		}
	}
	return nil
}

// dedupe counts distinct key tuples and applies the duplicates policy. Keys
// are compared as their input text, so rows whose keys differ only in
// spelling ("1" and "1.0") count as different here; PostgreSQL still sees
// them as equal and refuses them at the unique constraint.
func (p *Plan) dedupe(idx []int) error {
	b := p.Batch
	first := make(map[string]int, b.Len())
	var dup []bool
	for i := 0; i < b.Len(); i++ {
		k := keyText(b.Row(i), idx)
		prev, seen := first[k]
		first[k] = i
		if !seen {
			continue
		}
		if p.Config.Duplicates == DuplicatesRefuse {
			return p.duplicateError(idx, prev, i)
		}
		if dup == nil {
			dup = make([]bool, b.Len())
		}
		dup[prev] = true
		p.DuplicatesDropped++
	}
	p.KeyTuples = len(first)
	if dup != nil {
		p.Batch = b.without(dup)
	}
	return nil
}

func (p *Plan) duplicateError(idx []int, prev, i int) error {
	b := p.Batch
	row := b.Row(i)
	parts := make([]string, len(idx))
	for j, k := range idx {
		parts[j] = QuoteIdent(p.Config.Keys[j]) + "=" + row[k].Text
	}
	n, m := b.Offset+prev, b.Offset+i
	return invalid("rows["+itoa(m)+"]", m, "rows %d and %d have the same key (%s); set duplicates to DUPLICATES_KEEP_LAST to keep the last", n, m, strings.Join(parts, ", "))
}

// keyText joins a row's key values with a separator that text cannot hold.
func keyText(row []Field, idx []int) string {
	if len(idx) == 1 {
		return row[idx[0]].Text
	}
	var sb strings.Builder
	for j, k := range idx {
		if j > 0 {
			sb.WriteByte(0)
		}
		sb.WriteString(row[k].Text)
	}
	return sb.String()
}

// without returns a copy of b without the rows marked in drop.
func (b *Batch) without(drop []bool) *Batch {
	n := len(b.Columns)
	out := &Batch{Columns: b.Columns, Offset: b.Offset, Values: make([]Field, 0, len(b.Values))}
	for i, d := range drop {
		if !d {
			out.Values = append(out.Values, b.Values[i*n:(i+1)*n]...)
		}
	}
	return out
}

// Batches is ceil(rows / chunk size), the number of COPY batches.
func (p *Plan) Batches() int {
	return batches(p.Batch.Len(), p.Config.ChunkSize)
}

func batches(rows, chunk int) int {
	if rows == 0 {
		return 0
	}
	return (rows + chunk - 1) / chunk
}
