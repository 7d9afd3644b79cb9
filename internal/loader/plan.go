package loader

import (
	"slices"
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
	// DuplicatesDropped counts rows that a later row with the same key
	// replaces. The batch keeps them: the plan's statements drop them in the
	// stage, as the executing load does.
	DuplicatesDropped int
}

// NewPlan validates cfg and the rows of batch: every key column present and
// non-null in every row, and duplicate keys handled by cfg.Duplicates. It
// needs no database, so it compares keys by their text. A nil batch is a
// load with no rows.
func NewPlan(cfg Config, batch *Batch) (*Plan, error) {
	if err := cfg.CheckOnce(); err != nil {
		return nil, err
	}
	if batch == nil {
		batch = &Batch{}
	}
	p := &Plan{Config: cfg, Batch: batch, Rows: batch.Len()}
	if err := cfg.CheckRows(p.Rows); err != nil {
		return nil, err
	}
	if p.Rows == 0 || len(cfg.Keys) == 0 {
		return p, nil
	}
	keys, err := KeyIndexes(batch, cfg.Keys)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckKeys(batch, keys); err != nil {
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
			return nil, AbsentKey(batch.Offset, k)
		}
	}
	return idx, nil
}

// AbsentKey is the refusal of a key column that no row of a load carries;
// row is the load's first.
func AbsentKey(row int, key string) *ValidationError {
	return invalid(rowField(row, key), row, "row %d has no value for key column %s", row, QuoteIdent(key))
}

// MissingKey is the refusal of row, whose value for a key column is missing
// or null.
func MissingKey(row int, key string) *ValidationError {
	return invalid(rowField(row, key), row, "row %d has no value for key column %s (missing or null)", row, QuoteIdent(key))
}

// SameColumns refuses a batch whose columns are not the load's.
func SameColumns(columns []string, b *Batch) error {
	if slices.Equal(columns, b.Columns) {
		return nil
	}
	return invalid("rows", b.Offset, "rows from row %d on have columns (%s), but the load's are (%s)", b.Offset, quoteList("", b.Columns), quoteList("", columns))
}

// CheckKeys refuses the rows of batch whose value for a key column (at
// positions idx) is missing or null: every one of them, up to RowErrorCap,
// in one refusal that names the first.
func (c *Config) CheckKeys(batch *Batch, idx []int) error {
	errs, more := MissingKeys(batch, c.Keys, idx, c.RowErrorCap())
	if len(errs) == 0 {
		return nil
	}
	return c.missingKeysError(errs, more)
}

// dedupe counts distinct key tuples and applies the duplicates policy. Keys
// are compared as their input text, so rows whose keys differ only in
// spelling ("1" and "1.0") count as different here, where an executing load,
// comparing in the stage, finds them equal.
func (p *Plan) dedupe(idx []int) error {
	b := p.Batch
	first := make(map[string]int, b.Len())
	for i := 0; i < b.Len(); i++ {
		k := keyText(b.Row(i), idx)
		prev, seen := first[k]
		first[k] = i
		if !seen || !p.Config.Compares() {
			continue
		}
		if p.Config.Duplicates == DuplicatesRefuse {
			return p.duplicateError(idx, prev, i)
		}
		p.DuplicatesDropped++
	}
	p.KeyTuples = len(first)
	return nil
}

func (p *Plan) duplicateError(idx []int, prev, i int) error {
	b := p.Batch
	row := b.Row(i)
	values := make([]string, len(idx))
	for j, k := range idx {
		values[j] = row[k].Text
	}
	return DuplicateKey(p.Config.Keys, b.Offset+prev, b.Offset+i, values)
}

// DuplicateKey is the refusal of rows prev and row of a load, which have the
// same key, whoever found it: values are the key's, as text, in the order of
// keys.
func DuplicateKey(keys []string, prev, row int, values []string) *ValidationError {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = QuoteIdent(keys[i]) + "=" + Cap(v)
	}
	return invalid("rows["+itoa(row)+"]", row, "rows %d and %d have the same key (%s); set duplicates to DUPLICATES_KEEP_LAST to keep the last", prev, row, strings.Join(parts, ", "))
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
