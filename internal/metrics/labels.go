package metrics

import (
	"sync"
	"unicode"
	"unicode/utf8"
)

// MaxTables bounds the distinct values of the table label; loads of
// further tables are counted as "(other)".
const MaxTables = 1000

// Table label values that are no table.
const (
	noTable       = "(none)"       // the request named no table (a stream without config)
	invalidTable  = "(invalid)"    // a name that cannot be a PostgreSQL table
	overflowTable = "(other)"      // past MaxTables distinct tables
	refusedTable  = "(refused)"    // a request refused before admission: its name is the client's alone
	unknownTable  = "(unresolved)" // an admitted load whose table the catalog did not find, or never asked
	planTable     = "(plan)"       // a plan-only load, which never asks the catalog
)

// maxTableLen is the longest "schema.table" of two 63-byte identifiers.
const maxTableLen = 63 + 1 + 63

// modes are the mode label values; anything else is "unknown".
var modes = map[string]bool{
	"delete_insert": true, "append": true, "upsert": true,
	"insert_missing": true, "fill_null_only": true, "replace": true,
}

// modeLabel is the mode label of a load's mode name.
func modeLabel(mode string) string {
	if modes[mode] {
		return mode
	}
	return "unknown"
}

// tableLabels turns the tables that clients name into label values, with a
// bounded number of distinct values.
type tableLabels struct {
	mu   sync.Mutex
	seen map[string]struct{}
	max  int
}

func newTableLabels(max int) *tableLabels {
	return &tableLabels{seen: make(map[string]struct{}), max: max}
}

// label is the label value of table.
func (t *tableLabels) label(table string) string {
	if table == "" {
		return noTable
	}
	if !plausibleTable(table) {
		return invalidTable
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.seen[table]; ok {
		return table
	}
	if len(t.seen) >= t.max {
		return overflowTable
	}
	t.seen[table] = struct{}{}
	return table
}

// plausibleTable reports whether s could name a table: valid UTF-8, no
// control characters (NUL included), not longer than schema.table.
func plausibleTable(s string) bool {
	if len(s) > maxTableLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
