package loader

import (
	"strings"
)

// Statement is one SQL statement of a load, in the order the load runs it.
type Statement struct {
	SQL string
	// Rows is the number of rows the statement carries (COPY data, or the
	// rows an INSERT … SELECT reads from the stage); 0 if none.
	Rows int64

	role  role
	first int // COPY: index of the first row of its batch
}

// role says what a statement's command tag counts towards.
type role int

const (
	roleNone role = iota
	roleCopy      // COPY into the stage
	roleCopyTarget
	roleDelete
	roleInsert
	roleUpdate
	roleCountSkipped // a query returning one count: rows skipped
	roleFindDuplicate
	roleDropDuplicates
)

const stageName = "loadsvc_stage"

// stageFor is the staging table's name, and the stage as written in SQL,
// pinned to pg_temp so that a permanent table of the same name can never be
// hit. A target whose bare name is the stage's own gets another stage name,
// or the unqualified target would resolve to the TEMP table.
func stageFor(cfg *Config) (name, sql string) {
	name = stageName
	if cfg.Schema == "" && cfg.Table == stageName {
		name = stageName + "_2"
	}
	return name, "pg_temp." + QuoteIdent(name)
}

// Shape is what the statements of a load depend on beyond its config.
type Shape struct {
	Columns []string // the columns written, in COPY order
	Rows    int      // rows the load carries
	Dropped int      // of those, rows the stage drops as duplicates
	// Unique says the table has a unique index on exactly the key columns,
	// so inserts may use ON CONFLICT. A plan cannot see the catalog and
	// renders the form that works either way.
	Unique bool
	// Lock takes the table's advisory transaction lock first, serializing
	// keyed loads of one table.
	Lock bool
	// Ordinal numbers the staged rows (column loadsvc_row) so that duplicate
	// keys are found, or all but the last dropped, in the stage, with
	// PostgreSQL's equality, whatever batch each row came in.
	Ordinal bool
}

// ordinalName is the stage column that numbers a stream's rows.
const ordinalName = "loadsvc_row"

// Statements renders the load's statements for cfg and shape, one COPY per
// chunk of cfg.ChunkSize rows.
func Statements(cfg *Config, sh Shape) []Statement {
	if sh.Rows == 0 {
		return nil
	}
	sc := render(cfg, sh)
	out := append([]Statement(nil), sc.pre...)
	for first := 0; first < sh.Rows; first += cfg.ChunkSize {
		out = append(out, sc.copyOf(first, min(cfg.ChunkSize, sh.Rows-first)))
	}
	for _, st := range sc.post {
		out = append(out, st.withRows(int64(sh.Rows-sh.Dropped)))
	}
	return out
}

// script is a load's statements in three parts: those before the rows, the
// COPY that carries each batch, and those after.
type script struct {
	pre  []Statement
	copy Statement
	post []Statement
}

func render(cfg *Config, sh Shape) script {
	s := sqlBuilder{cfg: cfg, sh: sh, target: cfg.Target(), cols: quoteList("", sh.Columns)}
	s.stageName, s.stage = stageFor(cfg)
	var sc script
	if sh.Lock {
		sc.pre = append(sc.pre, Statement{SQL: lockSQL(cfg)})
	}
	switch cfg.Mode {
	case ModeAppend:
		sc.copy = s.copyInto(s.target, roleCopyTarget)
		return sc
	case ModeReplace:
		sc.pre = append(sc.pre, Statement{SQL: "DELETE FROM " + s.target, role: roleDelete})
		sc.copy = s.copyInto(s.target, roleCopyTarget)
		return sc
	}
	stageCols := s.cols
	if sh.Ordinal {
		stageCols += ", NULL::bigint AS " + QuoteIdent(ordinalName)
		s.cols += ", " + QuoteIdent(ordinalName)
	}
	sc.pre = append(sc.pre, Statement{SQL: "CREATE TEMP TABLE " + QuoteIdent(s.stageName) + " ON COMMIT DROP AS SELECT " + stageCols + " FROM " + s.target + " WITH NO DATA"})
	sc.copy = s.copyInto(s.stage, roleCopy)
	s.cols = quoteList("", sh.Columns)
	if sh.Ordinal {
		sc.post = append(sc.post, s.duplicates())
	}
	sc.post = append(sc.post, Statement{SQL: "ANALYZE " + s.stage})
	sc.post = append(sc.post, s.apply()...)
	return sc
}

// copyOf is the COPY of the batch of n rows starting at row first.
func (sc script) copyOf(first, n int) Statement {
	c := sc.copy
	c.first, c.Rows = first, int64(n)
	return c
}

// withRows gives a statement that reads the whole stage its row count.
func (st Statement) withRows(rows int64) Statement {
	if st.role == roleInsert {
		st.Rows = rows
	}
	return st
}

// lockSQL serializes keyed loads of one table for the rest of the transaction.
func lockSQL(cfg *Config) string {
	return "SELECT pg_advisory_xact_lock(" + lockClass + ", " + quoteLiteral(cfg.Target()) + "::regclass::oid::int4)"
}

// lockClass is the first key of loadsvc's advisory locks ('ldsv' as int4).
const lockClass = "1818522486"

type sqlBuilder struct {
	stageName, stage string
	cfg              *Config
	sh               Shape
	target           string
	cols             string
}

func (s sqlBuilder) copyInto(into string, r role) Statement {
	return Statement{SQL: "COPY " + into + " (" + s.cols + ") FROM STDIN", role: r}
}

func (s sqlBuilder) apply() []Statement {
	var rows int64 // set by withRows
	switch s.cfg.Mode {
	case ModeUpsert:
		var out []Statement
		if set := s.assignments("stage.%s"); set != "" {
			out = append(out, Statement{SQL: "UPDATE " + s.target + " AS target SET " + set + " FROM " + s.stage + " AS stage WHERE " + s.match(), role: roleUpdate})
		}
		return append(out, Statement{SQL: s.insertMissing(true), Rows: rows, role: roleInsert})
	case ModeInsertMissing:
		return []Statement{{SQL: s.insertMissing(false), Rows: rows, role: roleInsert}}
	case ModeFillNullOnly:
		return s.fillNull()
	}
	// A stage that keeps every row may hold thousands per key tuple (a
	// refresh key): the DELETE joins its distinct tuples, not its rows.
	// With a unique index on the key, a load whose stage repeats a key
	// fails at the INSERT anyway, so the stage's rows are its tuples.
	using := s.stage
	if s.cfg.Duplicates == DuplicatesKeepAll && !s.sh.Unique {
		using = "(SELECT DISTINCT " + quoteList("", s.cfg.Keys) + " FROM " + s.stage + ")"
	}
	return []Statement{
		{SQL: "DELETE FROM " + s.target + " AS target USING " + using + " AS stage WHERE " + s.match(), role: roleDelete},
		{SQL: "INSERT INTO " + s.target + " (" + s.cols + ") SELECT " + s.cols + " FROM " + s.stage, Rows: rows, role: roleInsert},
	}
}

// duplicates finds the first staged row whose key an earlier row had, or
// drops every staged row but the last of each key, by the config's policy.
// Both aggregate the stage once; rows are compared by typed key, as the
// table will compare them.
func (s sqlBuilder) duplicates() Statement {
	keys := quoteList("", s.cfg.Keys)
	ord := QuoteIdent(ordinalName)
	dups := "SELECT " + keys + ", max(" + ord + ") AS last FROM " + s.stage + " GROUP BY " + keys + " HAVING count(*) > 1"
	if s.cfg.Duplicates == DuplicatesKeepLast {
		return Statement{SQL: "DELETE FROM " + s.stage + " AS target USING (" + dups + ") AS stage WHERE " + s.match() + " AND target." + ord + " < stage.last", role: roleDropDuplicates}
	}
	texts := make([]string, len(s.cfg.Keys))
	for i, k := range s.cfg.Keys {
		texts[i] = "x." + QuoteIdent(k) + "::text"
	}
	return Statement{SQL: "SELECT x.prev, x." + ord + ", " + strings.Join(texts, ", ") +
		" FROM (SELECT target.*, lag(target." + ord + ") OVER (PARTITION BY " + quoteList("target.", s.cfg.Keys) + " ORDER BY target." + ord + ") AS prev" +
		" FROM " + s.stage + " AS target JOIN (" + dups + ") AS stage ON " + s.match() + ") AS x" +
		" WHERE x.prev IS NOT NULL ORDER BY x." + ord + " LIMIT 1", role: roleFindDuplicate}
}

// match is the join condition of target and stage rows on the key columns.
// Key values are never NULL, so = is exact and can use the table's index.
func (s sqlBuilder) match() string {
	parts := make([]string, len(s.cfg.Keys))
	for i, k := range s.cfg.Keys {
		q := QuoteIdent(k)
		parts[i] = "target." + q + " = stage." + q
	}
	return strings.Join(parts, " AND ")
}

// assignments renders "col = <format of col>" for every non-key column.
func (s sqlBuilder) assignments(format string) string {
	var parts []string
	for _, c := range s.nonKeys() {
		q := QuoteIdent(c)
		parts = append(parts, q+" = "+strings.ReplaceAll(format, "%s", q))
	}
	return strings.Join(parts, ", ")
}

func (s sqlBuilder) nonKeys() []string {
	isKey := make(map[string]bool, len(s.cfg.Keys))
	for _, k := range s.cfg.Keys {
		isKey[k] = true
	}
	var out []string
	for _, c := range s.sh.Columns {
		if !isKey[c] {
			out = append(out, c)
		}
	}
	return out
}

// insertMissing inserts the stage rows whose key the table lacks. With a
// unique index on the key, ON CONFLICT also covers a row another writer
// inserted meanwhile: upsert updates it, insert_missing leaves it.
func (s sqlBuilder) insertMissing(update bool) string {
	sql := "INSERT INTO " + s.target + " AS target (" + s.cols + ") SELECT " + quoteList("stage.", s.sh.Columns) +
		" FROM " + s.stage + " AS stage WHERE NOT EXISTS (SELECT 1 FROM " + s.target + " AS target WHERE " + s.match() + ")"
	if !s.sh.Unique {
		return sql
	}
	sql += " ON CONFLICT (" + quoteList("", s.cfg.Keys) + ") DO "
	if set := s.assignments("EXCLUDED.%s"); update && set != "" {
		return sql + "UPDATE SET " + set
	}
	return sql + "NOTHING"
}

// fillNull sets, for rows whose key exists, only the columns that are NULL
// in the table; it first counts the stage rows whose key is absent.
func (s sqlBuilder) fillNull() []Statement {
	skipped := Statement{SQL: "SELECT count(*) FROM " + s.stage + " AS stage WHERE NOT EXISTS (SELECT 1 FROM " + s.target + " AS target WHERE " + s.match() + ")", role: roleCountSkipped}
	cols := s.nonKeys()
	if len(cols) == 0 {
		return []Statement{skipped}
	}
	var set, cond []string
	for _, c := range cols {
		q := QuoteIdent(c)
		set = append(set, q+" = COALESCE(target."+q+", stage."+q+")")
		cond = append(cond, "(target."+q+" IS NULL AND stage."+q+" IS NOT NULL)")
	}
	update := Statement{SQL: "UPDATE " + s.target + " AS target SET " + strings.Join(set, ", ") + " FROM " + s.stage + " AS stage WHERE " + s.match() + " AND (" + strings.Join(cond, " OR ") + ")", role: roleUpdate}
	return []Statement{skipped, update}
}

// quoteLiteral quotes s as an escape string literal, E'…' with quotes and
// backslashes doubled: read the same whatever standard_conforming_strings
// says, by the server and by psql's own lexer, so no text can end it early.
func quoteLiteral(s string) string {
	return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}
