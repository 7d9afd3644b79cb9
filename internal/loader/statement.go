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

	role  Role
	first int // COPY: index of the first row of its batch
}

// Role says what a statement's command tag counts towards, and how the
// executor runs it.
type Role int

// The roles of a load's statements.
const (
	RoleNone           Role = iota // counts nothing: the lock, the stage, ANALYZE
	RoleCopy                       // COPY into the stage
	RoleCopyTarget                 // COPY into the target: rows inserted
	RoleDelete                     // rows deleted
	RoleInsert                     // rows inserted
	RoleUpdate                     // rows updated
	RoleCountSkipped               // a query returning one count: rows skipped
	RoleFindDuplicate              // a query returning the first duplicate key, if any
	RoleDropDuplicates             // rows dropped from the stage as duplicates
)

// Role is what the statement's command tag counts towards.
func (st Statement) Role() Role { return st.role }

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

// TempStage is a load's TEMP stage as written in SQL, for a Shape.Stage
// that applies it again.
func TempStage(cfg *Config) string {
	_, sql := stageFor(cfg)
	return sql
}

// stageOf is the stage of a load shaped by sh, as written in SQL: a load
// session's (Shape.Stage), else the load's TEMP stage.
func stageOf(cfg *Config, sh Shape) string {
	if sh.Stage != "" {
		return sh.Stage
	}
	_, stage := stageFor(cfg)
	return stage
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
	// PostgreSQL's equality, whatever batch each row came in, and so that a
	// staged row that breaks a constraint is known by its row.
	Ordinal bool
	// Staged stages the rows of append and replace too, which otherwise
	// COPY into the target: a load that may reject rows, or one that looks
	// for every bad row, applies what passed.
	Staged bool
	// Stage, when set, is a stage that holds the rows already (a load
	// session's, as written in SQL): Render creates none and renders no
	// COPY, and every mode reads its rows from it.
	Stage string
}

// ordinalName is the stage column that numbers a stream's rows.
const ordinalName = "loadsvc_row"

// Statements renders the load's statements for cfg and shape, one COPY per
// chunk of cfg.ChunkSize rows.
func Statements(cfg *Config, sh Shape) []Statement {
	if sh.Rows == 0 {
		return nil
	}
	sc := Render(cfg, sh)
	out := append([]Statement(nil), sc.Pre...)
	for first := 0; first < sh.Rows; first += cfg.ChunkSize {
		out = append(out, sc.CopyOf(first, min(cfg.ChunkSize, sh.Rows-first)))
	}
	for _, st := range sc.Post {
		out = append(out, st.WithRows(int64(sh.Rows-sh.Dropped)))
	}
	return out
}

// Script is a load's statements in three parts: those before the rows, the
// COPY that carries each batch (CopyOf), and those after.
type Script struct {
	Pre  []Statement
	Post []Statement
	copy Statement
}

// Render renders the statements of a load of cfg (already checked) shaped
// by sh.
func Render(cfg *Config, sh Shape) Script {
	s := sqlBuilder{cfg: cfg, sh: sh, target: cfg.Target(), cols: quoteList("", sh.Columns), stamp: StampOf(cfg)}
	s.stageName, s.stage = stageFor(cfg)
	if sh.Stage != "" {
		s.stage = sh.Stage
	}
	var sc Script
	if sh.Lock {
		sc.Pre = append(sc.Pre, Statement{SQL: lockSQL(cfg)})
	}
	switch {
	case (cfg.Mode == ModeAppend || cfg.Mode == ModeReplace) && !sh.Staged:
		if cfg.Mode == ModeReplace {
			sc.Pre = append(sc.Pre, Statement{SQL: "DELETE FROM " + s.target, role: RoleDelete})
		}
		if sh.Stage != "" {
			sc.Post = append(sc.Post, s.insertAll())
			return sc
		}
		s.cols += s.stamp.column() // the COPY carries the load id last
		sc.copy = s.copyInto(s.target, RoleCopyTarget)
		return sc
	}
	if sh.Stage == "" {
		stageCols := s.cols
		if sh.Ordinal {
			stageCols += ", NULL::bigint AS " + QuoteIdent(ordinalName)
			s.cols += ", " + QuoteIdent(ordinalName)
		}
		sc.Pre = append(sc.Pre, Statement{SQL: "CREATE TEMP TABLE " + QuoteIdent(s.stageName) + " ON COMMIT DROP AS SELECT " + stageCols + " FROM " + s.target + " WITH NO DATA"})
		sc.copy = s.copyInto(s.stage, RoleCopy)
		s.cols = quoteList("", sh.Columns)
	}
	if sh.Ordinal && cfg.Compares() {
		sc.Post = append(sc.Post, s.duplicates())
	}
	sc.Post = append(sc.Post, Statement{SQL: "ANALYZE " + s.stage})
	sc.Post = append(sc.Post, s.apply()...)
	return sc
}

// CopyOf is the COPY of the batch of n rows starting at row first.
func (sc Script) CopyOf(first, n int) Statement {
	c := sc.copy
	c.first, c.Rows = first, int64(n)
	return c
}

// WithRows gives a statement that reads the whole stage (an INSERT … SELECT
// from it) its row count, rows; any other statement is returned as it is.
func (st Statement) WithRows(rows int64) Statement {
	if st.role == RoleInsert {
		st.Rows = rows
	}
	return st
}

// lockSQL serializes keyed loads of one table for the rest of the transaction.
func lockSQL(cfg *Config) string {
	return "SELECT pg_advisory_xact_lock(" + lockClass + ", " + QuoteLiteral(cfg.Target()) + "::regclass::oid::int4)"
}

// lockClass is the first key of loadsvc's advisory locks ('ldsv' as int4).
const lockClass = "1818522486"

type sqlBuilder struct {
	stageName, stage string
	cfg              *Config
	sh               Shape
	target           string
	cols             string
	stamp            Stamp
}

func (s sqlBuilder) copyInto(into string, r Role) Statement {
	return Statement{SQL: "COPY " + into + " (" + s.cols + ") FROM STDIN", role: r}
}

func (s sqlBuilder) apply() []Statement {
	var rows int64 // set by WithRows
	switch s.cfg.Mode {
	case ModeUpsert:
		var out []Statement
		if set := s.stamp.assign(s.assignments("stage.%s"), QuoteLiteral(s.stamp.ID)); set != "" {
			out = append(out, Statement{SQL: "UPDATE " + s.target + " AS target SET " + set + " FROM " + s.stage + " AS stage WHERE " + s.match(), role: RoleUpdate})
		}
		return append(out, Statement{SQL: s.insertMissing(true), Rows: rows, role: RoleInsert})
	case ModeInsertMissing:
		return []Statement{{SQL: s.insertMissing(false), Rows: rows, role: RoleInsert}}
	case ModeFillNullOnly:
		return s.fillNull()
	case ModeAppend, ModeReplace: // staged (Shape.Staged): the apply deletes, so that it can run again
		if s.cfg.Mode == ModeAppend {
			return []Statement{s.insertAll()}
		}
		return []Statement{{SQL: "DELETE FROM " + s.target, role: RoleDelete}, s.insertAll()}
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
		{SQL: "DELETE FROM " + s.target + " AS target USING " + using + " AS stage WHERE " + s.match(), role: RoleDelete},
		s.insertAll(),
	}
}

// insertAll inserts every row of the stage.
func (s sqlBuilder) insertAll() Statement {
	return Statement{SQL: "INSERT INTO " + s.target + " (" + s.cols + s.stamp.column() + ") SELECT " + s.cols + s.stamp.value() + " FROM " + s.stage, role: RoleInsert}
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
		return Statement{SQL: "DELETE FROM " + s.stage + " AS target USING (" + dups + ") AS stage WHERE " + s.match() + " AND target." + ord + " < stage.last", role: RoleDropDuplicates}
	}
	texts := make([]string, len(s.cfg.Keys))
	for i, k := range s.cfg.Keys {
		texts[i] = "x." + QuoteIdent(k) + "::text"
	}
	return Statement{SQL: "SELECT x.prev, x." + ord + ", " + strings.Join(texts, ", ") +
		" FROM (SELECT target.*, lag(target." + ord + ") OVER (PARTITION BY " + quoteList("target.", s.cfg.Keys) + " ORDER BY target." + ord + ") AS prev" +
		" FROM " + s.stage + " AS target JOIN (" + dups + ") AS stage ON " + s.match() + ") AS x" +
		" WHERE x.prev IS NOT NULL ORDER BY x." + ord + " LIMIT 1", role: RoleFindDuplicate}
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
	sql := "INSERT INTO " + s.target + " AS target (" + s.cols + s.stamp.column() + ") SELECT " + quoteList("stage.", s.sh.Columns) + s.stamp.value() +
		" FROM " + s.stage + " AS stage WHERE NOT EXISTS (SELECT 1 FROM " + s.target + " AS target WHERE " + s.match() + ")"
	if !s.sh.Unique {
		return sql
	}
	sql += " ON CONFLICT (" + quoteList("", s.cfg.Keys) + ") DO "
	if set := s.stamp.assign(s.assignments("EXCLUDED.%s"), "EXCLUDED."+QuoteIdent(s.stamp.Column)); update && set != "" {
		return sql + "UPDATE SET " + set
	}
	return sql + "NOTHING"
}

// fillNull sets, for rows whose key exists, only the columns that are NULL
// in the table; it first counts the stage rows whose key is absent.
func (s sqlBuilder) fillNull() []Statement {
	skipped := Statement{SQL: "SELECT count(*) FROM " + s.stage + " AS stage WHERE NOT EXISTS (SELECT 1 FROM " + s.target + " AS target WHERE " + s.match() + ")", role: RoleCountSkipped}
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
	update := Statement{SQL: "UPDATE " + s.target + " AS target SET " + s.stamp.assign(strings.Join(set, ", "), QuoteLiteral(s.stamp.ID)) + " FROM " + s.stage + " AS stage WHERE " + s.match() + " AND (" + strings.Join(cond, " OR ") + ")", role: RoleUpdate}
	return []Statement{skipped, update}
}

// QuoteLiteral quotes s as an escape string literal, E'…' with quotes and
// backslashes doubled: read the same whatever standard_conforming_strings
// says, by the server and by psql's own lexer, so no text can end it early.
func QuoteLiteral(s string) string {
	return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}
