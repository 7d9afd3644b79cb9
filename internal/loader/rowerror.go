package loader

import "fmt"

// DefaultMaxRowErrors is how many bad rows a load reports when the config
// sets no MaxRowErrors (LOADSVC_MAX_ROW_ERRORS).
const DefaultMaxRowErrors = 1000

// RowError is one bad value or row of a load, with PostgreSQL's own
// verdict: the SQLSTATE and message its input function or constraint
// raised. A row refused before any connection (a missing key value) has
// loadsvc's verdict and no SQLSTATE.
type RowError struct {
	// Row is the row's index in the load: in a Load request's rows, counted
	// across all messages of a LoadStream.
	Row int64
	// Column is the bad value's column; empty for a verdict on the whole
	// row (a unique, foreign key or check constraint).
	Column string
	// Value is the value as sent, capped at MaxQuoted bytes; empty for a
	// NULL or a verdict on the whole row.
	Value      string
	SQLState   string
	Message    string
	Constraint string
}

// RowErrors are the bad rows of a load, in row order (and column order
// within a row), at most the config's MaxRowErrors of them; Truncated says
// that more were found, or that the search stopped there.
type RowErrors struct {
	Errors    []RowError
	Truncated bool
	// Rows is how many distinct rows the errors name, or more when
	// Truncated.
	Rows int64
}

// MaxRejectedRows bounds a load's reject budget: a careful load holds each
// bad row it finds (its index, to leave it out of the stage) until it
// ends, so what a request can make it hold is bounded before it starts.
const MaxRejectedRows = 100_000

// RowErrorCap is how many row errors a load of this config reports.
func (c *Config) RowErrorCap() int {
	if c.MaxRowErrors > 0 {
		return c.MaxRowErrors
	}
	return DefaultMaxRowErrors
}

// MissingKeys lists the rows of batch whose value for a key column is
// missing or null, one error per such value, at most limit of them; more
// says that the batch holds more.
func MissingKeys(batch *Batch, keys []string, idx []int, limit int) (errs []RowError, more bool) {
	for i := 0; i < batch.Len(); i++ {
		row := batch.Row(i)
		for j, k := range idx {
			if !row[k].Null {
				continue
			}
			if len(errs) >= limit {
				return errs, true
			}
			errs = append(errs, RowError{Row: int64(batch.Offset + i), Column: keys[j], Message: "no value for key column " + QuoteIdent(keys[j]) + " (missing or null)"})
		}
	}
	return errs, false
}

// missingKeysError is the refusal of every row listed in errs, found
// before any connection; truncated says that more rows lack one.
func (c *Config) missingKeysError(errs []RowError, truncated bool) *ValidationError {
	first := errs[0]
	err := MissingKey(int(first.Row), first.Column)
	rows := distinctRows(errs)
	switch {
	case truncated:
		err.Reason += fmt.Sprintf("; more than %d rows lack a key value, the first listed in the RowErrors detail", rows)
		if c.MaxRowErrorsHint != "" {
			err.Reason += " (" + c.MaxRowErrorsHint + ")"
		}
	case rows > 1:
		err.Reason += fmt.Sprintf("; %d rows lack a key value, all listed in the RowErrors detail", rows)
	}
	err.Rows = &RowErrors{Errors: errs, Truncated: truncated, Rows: rows}
	return err
}

// distinctRows counts the rows errs (in row order) name.
func distinctRows(errs []RowError) int64 {
	var n int64
	for i, e := range errs {
		if i == 0 || e.Row != errs[i-1].Row {
			n++
		}
	}
	return n
}
