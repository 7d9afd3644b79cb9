package loader

// Ledger names the table that records every load carrying a request id,
// with its result, in the load's own transaction: a retry of a load that
// committed finds it there and replays the result instead of writing again.
// The zero value is loadsvc.load_ledger. The executor (pgexec) runs its SQL;
// the server asks Holds to keep it from being a load's target.
type Ledger struct {
	Schema string // default "loadsvc"
	Table  string // default "load_ledger"
}

// WithDefaults returns l with an empty Schema or Table set to its default.
func (l Ledger) WithDefaults() Ledger {
	if l.Schema == "" {
		l.Schema = "loadsvc"
	}
	if l.Table == "" {
		l.Table = "load_ledger"
	}
	return l
}

// Target is the ledger table as written in SQL: "schema"."table".
func (l Ledger) Target() string {
	l = l.WithDefaults()
	return QuoteIdent(l.Schema) + "." + QuoteIdent(l.Table)
}

// Holds reports whether schema.table (an empty schema: any schema) is the
// ledger's own table, which no load may write.
func (l Ledger) Holds(schema, table string) bool {
	l = l.WithDefaults()
	return table == l.Table && (schema == "" || schema == l.Schema)
}
