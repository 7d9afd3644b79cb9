package loader

import (
	"strconv"
	"strings"
)

// Violation is a constraint that a staged load's apply broke, as the
// catalog describes it: enough to find, with a query PostgreSQL evaluates,
// every staged row that breaks it.
type Violation struct {
	SQLState string
	// Column is the column of a not-null violation (23502).
	Column string
	// Check is a check constraint's expression (23514), as
	// pg_get_expr gives it.
	Check string
	// Columns are a unique index's key columns (23505) or a foreign key's
	// referencing columns (23503).
	Columns []string
	// Ref and RefColumns are a foreign key's referenced table, as SQL, and
	// its columns (23503).
	Ref        string
	RefColumns []string
}

// TraceSQL renders the query that lists, in row order, the ordinals of the
// staged rows that break v when the mode writes them, at most limit+1; ""
// when the mode's statements cannot be traced to rows that way (the stage
// must number its rows: Shape.Ordinal).
func TraceSQL(cfg *Config, sh Shape, v Violation, limit int) string {
	s := sqlBuilder{cfg: cfg, sh: sh, target: cfg.Target(), stage: stageOf(cfg, sh)}
	if cfg.Mode == ModeFillNullOnly || !sh.Ordinal {
		return "" // it writes only what the table lacks: no staged row is the one to blame
	}
	var cond string
	switch v.SQLState {
	case "23502":
		cond = "stage." + QuoteIdent(v.Column) + " IS NULL"
	case "23514":
		cond = "(" + v.Check + ") IS FALSE"
	case "23505":
		cond = s.uniqueClash(v.Columns)
	case "23503":
		cond = notNull("stage.", v.Columns) + " AND NOT EXISTS (SELECT 1 FROM " + v.Ref + " AS ref WHERE " + equal("ref.", v.RefColumns, "stage.", v.Columns) + ")"
	default:
		return ""
	}
	ord := QuoteIdent(ordinalName)
	return "SELECT stage." + ord + " FROM " + s.stage + " AS stage WHERE " + cond + s.written("stage") +
		" ORDER BY 1 LIMIT " + strconv.Itoa(limit+1)
}

// uniqueClash is true of a staged row whose values in cols match a table
// row's (other than the row an upsert updates) or an earlier staged row's:
// the later row of two is the one refused, as the first is written.
func (s sqlBuilder) uniqueClash(cols []string) string {
	ord := QuoteIdent(ordinalName)
	table := "SELECT 1 FROM " + s.target + " AS target WHERE " + equal("target.", cols, "stage.", cols)
	if s.cfg.Mode == ModeUpsert {
		table += " AND NOT (" + s.match() + ")"
	}
	batch := "SELECT 1 FROM " + s.stage + " AS earlier WHERE " + equal("earlier.", cols, "stage.", cols) +
		" AND earlier." + ord + " < stage." + ord + s.written("earlier")
	return notNull("stage.", cols) + " AND (EXISTS (" + table + ") OR EXISTS (" + batch + "))"
}

// written narrows a condition on the staged rows (alias) to those the mode
// writes: insert_missing inserts only rows whose key the table lacks.
func (s sqlBuilder) written(alias string) string {
	if s.cfg.Mode != ModeInsertMissing {
		return ""
	}
	parts := make([]string, len(s.cfg.Keys))
	for i, k := range s.cfg.Keys {
		q := QuoteIdent(k)
		parts[i] = "t." + q + " = " + alias + "." + q
	}
	return " AND NOT EXISTS (SELECT 1 FROM " + s.target + " AS t WHERE " + strings.Join(parts, " AND ") + ")"
}

func notNull(prefix string, cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = prefix + QuoteIdent(c) + " IS NOT NULL"
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

func equal(lp string, lcols []string, rp string, rcols []string) string {
	parts := make([]string, len(lcols))
	for i := range lcols {
		parts[i] = lp + QuoteIdent(lcols[i]) + " = " + rp + QuoteIdent(rcols[i])
	}
	return strings.Join(parts, " AND ")
}

// RejectSQL deletes the staged rows whose ordinals are rows from the stage.
func RejectSQL(cfg *Config, sh Shape, rows []int64) string {
	stage := stageOf(cfg, sh)
	var b strings.Builder
	b.WriteString("DELETE FROM " + stage + " WHERE " + QuoteIdent(ordinalName) + " = ANY ('{")
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(r, 10))
	}
	b.WriteString("}'::bigint[])")
	return b.String()
}

// CopyStageSQL is the COPY into the stage of the columns cols (a probe of
// one value) or, with no cols, of every column of sh and the ordinal.
func CopyStageSQL(cfg *Config, sh Shape, cols ...string) string {
	stage := stageOf(cfg, sh)
	if len(cols) == 0 {
		cols = append(append([]string(nil), sh.Columns...), ordinalName)
	}
	return "COPY " + stage + " (" + quoteList("", cols) + ") FROM STDIN"
}

// NumberStageSQL gives a TEMP stage that has no ordinal column one, each
// row numbered by its place in the stage: a stage that was only ever
// copied into holds its rows in the order they came, row 0 first.
func NumberStageSQL(stage string) string {
	ord := QuoteIdent(ordinalName)
	return "ALTER TABLE " + stage + " ADD COLUMN " + ord + " bigint; UPDATE " + stage + " AS t SET " + ord + " = r.n FROM (SELECT ctid AS c, row_number() OVER (ORDER BY ctid) - 1 AS n FROM " +
		stage + ") AS r WHERE t.ctid = r.c"
}
