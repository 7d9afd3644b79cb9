package loader

import (
	"fmt"
	"strconv"
)

// Mode is how a load writes its rows.
type Mode int

// The modes. ModeDeleteInsert is the default.
const (
	ModeDeleteInsert Mode = iota + 1
	ModeAppend
	ModeUpsert
	ModeInsertMissing
	ModeFillNullOnly
	ModeReplace
)

func (m Mode) String() string {
	switch m {
	case ModeDeleteInsert:
		return "delete_insert"
	case ModeAppend:
		return "append"
	case ModeUpsert:
		return "upsert"
	case ModeInsertMissing:
		return "insert_missing"
	case ModeFillNullOnly:
		return "fill_null_only"
	case ModeReplace:
		return "replace"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// keyed reports whether the mode matches rows to the table by key.
func (m Mode) keyed() bool {
	switch m {
	case ModeDeleteInsert, ModeUpsert, ModeInsertMissing, ModeFillNullOnly:
		return true
	}
	return false
}

// Duplicates is the policy for rows of one load that share a key.
type Duplicates int

// The policies, numbered as on the wire. DuplicatesUnspecified is the
// mode's default, which Check resolves: delete_insert keeps every row (its
// key is a refresh scope), the other keyed modes refuse duplicates.
const (
	DuplicatesUnspecified Duplicates = iota
	DuplicatesKeepLast
	DuplicatesRefuse
	DuplicatesKeepAll
)

func (d Duplicates) String() string {
	switch d {
	case DuplicatesUnspecified:
		return "unspecified"
	case DuplicatesKeepLast:
		return "keep_last"
	case DuplicatesRefuse:
		return "refuse"
	case DuplicatesKeepAll:
		return "keep_all"
	}
	return fmt.Sprintf("Duplicates(%d)", int(d))
}

// DefaultChunkSize is the rows per batch when the config gives none.
const DefaultChunkSize = 1000

// Config says which table a load writes and how.
type Config struct {
	Schema     string // empty: the session's search_path
	Table      string
	Mode       Mode
	Keys       []string
	ChunkSize  int
	Duplicates Duplicates
	// MaxRows bounds the rows of one load; 0 means no bound. MaxRowsHint
	// says in a refusal which limit it is and what to do, e.g. "per request
	// (LOADSVC_MAX_ROWS); split it or use LoadStream".
	MaxRows     int
	MaxRowsHint string
	// MaxCells, when set below the package's MaxCells, bounds rows ×
	// columns of the whole load (a plan, held in memory); MaxCellsHint says
	// which limit it is.
	MaxCells     int
	MaxCellsHint string
	// RequestID, when set, makes the load exactly-once through the
	// executor's Ledger. A dry run neither records nor replays it.
	RequestID string
	// Principal scopes RequestID: the same id from two callers is two
	// loads. Empty for a service without authentication.
	Principal string
	// DryRun runs the load exactly as it would run and then rolls it back:
	// the result has the real counts and nothing is written.
	DryRun bool
	// Labels are recorded with the load in its history.
	Labels Labels
	// StampColumn, when set, is the target column that receives LoadID in
	// every row the load inserts or updates.
	StampColumn string
	// MaxDeletedRows refuses a load that would delete more rows
	// (DeleteLimitError); 0 means no limit.
	MaxDeletedRows int64
	// LoadID is the executing load's id (NewLoadID); the executor makes
	// one when the caller did not. Peer is the caller's address. Neither
	// is part of the request (nor of its digest), as Principal is not.
	LoadID, Peer string
	// MaxRejectedRows is how many bad rows the load may leave out and
	// still write its good rows (Result.Rejected); 0 fails the load at
	// its first bad row, reporting every one.
	MaxRejectedRows int64
	// MaxRowErrors bounds the bad rows a load reports; 0 means
	// DefaultMaxRowErrors. MaxRowErrorsHint names the setting in a failure
	// whose list it cut, e.g. "LOADSVC_MAX_ROW_ERRORS".
	MaxRowErrors     int
	MaxRowErrorsHint string

	checked bool // Check passed: the defaults are filled
}

// Check validates the config alone and fills defaults. It needs no rows and
// no database. A config is checked once, where a request is admitted; the
// planner and the executor check only a config that was not.
func (c *Config) Check() error {
	if err := c.check(); err != nil {
		return err
	}
	c.checked = true
	return nil
}

// CheckOnce is Check, unless the config passed it already.
func (c *Config) CheckOnce() error {
	if c.checked {
		return nil
	}
	return c.Check()
}

func (c *Config) check() error {
	if err := CheckIdent(c.Table); err != nil {
		return invalid("config.table", -1, "table name %v", err)
	}
	if c.Schema != "" {
		if err := CheckIdent(c.Schema); err != nil {
			return invalid("config.schema", -1, "schema name %v", err)
		}
	}
	if c.Mode == 0 {
		c.Mode = ModeDeleteInsert
	}
	if c.Mode < ModeDeleteInsert || c.Mode > ModeReplace {
		return invalid("config.mode", -1, "unknown mode %d", int(c.Mode))
	}
	if c.ChunkSize < 0 {
		return invalid("config.chunk_size", -1, "chunk_size %d is negative; 0 means %d", c.ChunkSize, DefaultChunkSize)
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if len(c.RequestID) > 200 {
		return invalid("config.request_id", -1, "request_id is %d bytes long, more than 200", len(c.RequestID))
	}
	if c.MaxRejectedRows < 0 {
		return invalid("config.max_rejected_rows", -1, "max_rejected_rows %d is negative; 0 rejects no row", c.MaxRejectedRows)
	}
	if c.MaxRejectedRows > MaxRejectedRows {
		return invalid("config.max_rejected_rows", -1, "max_rejected_rows %d is more than a load may reject, %d", c.MaxRejectedRows, MaxRejectedRows)
	}
	if err := c.checkDuplicates(); err != nil {
		return err
	}
	if err := c.checkHistory(); err != nil {
		return err
	}
	return c.checkKeys()
}

// checkDuplicates resolves the mode's default policy and refuses one the
// mode cannot apply. Modes without a key write every row as it comes.
func (c *Config) checkDuplicates() error {
	if c.Duplicates < DuplicatesUnspecified || c.Duplicates > DuplicatesKeepAll {
		return invalid("config.duplicates", -1, "unknown duplicates policy %d", int(c.Duplicates))
	}
	switch {
	case !c.Mode.keyed():
		if c.Duplicates == DuplicatesRefuse || c.Duplicates == DuplicatesKeepLast {
			return invalid("config.duplicates", -1, "duplicates %s needs a key-based mode; mode %s writes every row and has no key to compare", c.Duplicates, c.Mode)
		}
		c.Duplicates = DuplicatesKeepAll
	case c.Duplicates == DuplicatesKeepAll && c.Mode != ModeDeleteInsert:
		return invalid("config.duplicates", -1, "duplicates keep_all is for mode delete_insert only; mode %s matches each row to one table row, so use refuse or keep_last", c.Mode)
	case c.Duplicates == DuplicatesUnspecified && c.Mode == ModeDeleteInsert:
		c.Duplicates = DuplicatesKeepAll
	case c.Duplicates == DuplicatesUnspecified:
		c.Duplicates = DuplicatesRefuse
	}
	return nil
}

// Compares reports whether the load compares the keys of its rows: a keyed
// mode that refuses duplicates or keeps the last. Such a load numbers its
// rows (Shape.Ordinal, AppendOrdinal) so that duplicates are found in the
// stage.
func (c *Config) Compares() bool {
	return c.Mode.keyed() && c.Duplicates != DuplicatesKeepAll
}

func (c *Config) checkKeys() error {
	if c.Mode.keyed() && len(c.Keys) == 0 {
		return invalid("config.pk", -1, "mode %s needs key columns in pk", c.Mode)
	}
	if len(c.Keys) > MaxKeys {
		return invalid("config.pk", -1, "pk names %d key columns; at most %d (PostgreSQL's limit on an index's columns)", len(c.Keys), MaxKeys)
	}
	seen := make(map[string]bool, len(c.Keys))
	for i, k := range c.Keys {
		if err := CheckIdent(k); err != nil {
			return invalid(fmt.Sprintf("config.pk[%d]", i), -1, "key column name %v", err)
		}
		if seen[k] {
			return invalid(fmt.Sprintf("config.pk[%d]", i), -1, "key column %s is listed twice", QuoteIdent(k))
		}
		seen[k] = true
	}
	return nil
}

// CheckRows refuses a load of n rows (or at least n) past MaxRows.
func (c *Config) CheckRows(n int) error {
	if c.MaxRows <= 0 || n <= c.MaxRows {
		return nil
	}
	hint := c.MaxRowsHint
	if hint == "" {
		hint = "per load"
	}
	err := invalid("rows", -1, "the load carries %d rows or more, past the limit of %d rows %s; nothing was written", n, c.MaxRows, hint)
	err.Limit = true
	return err
}

// LedgerKey is the request id as the ledger records it, scoped by the
// principal; the principal's length keeps ("a/b", "c") from ("a", "b/c").
func (c *Config) LedgerKey() string {
	if c.Principal == "" {
		return c.RequestID
	}
	return strconv.Itoa(len(c.Principal)) + ":" + c.Principal + "/" + c.RequestID
}

// Target is the table as written in SQL: "schema"."table" or "table".
func (c *Config) Target() string {
	if c.Schema == "" {
		return QuoteIdent(c.Table)
	}
	return QuoteIdent(c.Schema) + "." + QuoteIdent(c.Table)
}
