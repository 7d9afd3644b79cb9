package loader

import "time"

// History names the table that records every executing load that reached
// a session, in the ledger's schema: a committed load in its own
// transaction, a failed one after its rollback, best effort. Dry runs and
// plans are not recorded, nor a replayed request id (its load is). pgexec
// runs its SQL; the server lists it (ListLoads) and keeps it from being a
// load's target.
type History struct {
	Schema string // the ledger's; default "loadsvc"
}

// HistoryTable is the history table's name in its schema.
const HistoryTable = "load_history"

// HistoryOf is the history beside ledger l.
func HistoryOf(l Ledger) History { return History{Schema: l.WithDefaults().Schema} }

// Target is the history table as written in SQL: "schema"."load_history".
func (h History) Target() string {
	return QuoteIdent(HistoryOf(Ledger{Schema: h.Schema}).Schema) + "." + QuoteIdent(HistoryTable)
}

// Holds reports whether schema.table (an empty schema: any schema) is the
// history table, which no load may write.
func (h History) Holds(schema, table string) bool {
	h = HistoryOf(Ledger{Schema: h.Schema})
	return table == HistoryTable && (schema == "" || schema == h.Schema)
}

// The statuses of a recorded load.
const (
	StatusCommitted = "committed"
	StatusFailed    = "failed"
)

// MaxRecordedMessage is how many bytes of a failure's message the history
// keeps.
const MaxRecordedMessage = 1024

// Record is one recorded load.
type Record struct {
	LoadID, Status, Principal, Peer string
	Schema, Table, Mode, RequestID  string
	Labels                          Labels
	Rows, Inserted, Updated         int64
	Deleted, Skipped, Rejected      int64
	StartedAt, FinishedAt           time.Time
	Code, SQLState, Message         string
}

// HistoryQuery selects recorded loads, newest first: empty fields select
// everything. After, when set, continues a listing after that record.
type HistoryQuery struct {
	Schema, Table, Status string
	Since, Until          time.Time
	Limit                 int
	After                 *HistoryKey
}

// HistoryKey is where a record stands in the newest-first order.
type HistoryKey struct {
	StartedAt time.Time
	LoadID    string
}

// Key is the record's place in the newest-first order.
func (r *Record) Key() HistoryKey { return HistoryKey{StartedAt: r.StartedAt, LoadID: r.LoadID} }
