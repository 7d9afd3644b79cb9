package pgexec

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// migration is one step of the schema of loadsvc's own tables (the ledger,
// the load history, the load sessions), applied once, in version order, in
// one transaction with the others of its run.
type migration struct {
	version int
	name    string
	sql     func(e *Executor) []string
}

// migrations are the steps this binary knows, versions 1, 2, … in order.
// A step is never edited once released: a change is a new step.
var migrations = []migration{
	{version: 1, name: "request_id ledger", sql: ledgerDDL},
	{version: 2, name: "load history", sql: historyDDL},
	{version: 3, name: "load sessions", sql: sessionsDDL},
}

// SchemaVersion is the version of loadsvc's own tables this binary writes.
func SchemaVersion() int { return len(migrations) }

// VersionError is loadsvc's own tables at a version newer than this
// binary's: a newer loadsvc migrated them, and this one refuses to write
// rows it does not understand.
type VersionError struct {
	Schema        string
	Tables, Known int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("loadsvc's tables in schema %s are at version %d, newer than this binary's %d: run a loadsvc at least as new as the one that migrated them",
		loader.QuoteIdent(e.Schema), e.Tables, e.Known)
}

// refreshCatalog follows an advisory lock that guards CREATE … IF NOT
// EXISTS. What another replica created while this session waited for the
// lock may be missing from the session's catalog caches — seen after a
// rolled-back migration of its own, when CREATE SCHEMA IF NOT EXISTS then
// failed on pg_namespace's unique index — and locking a catalog makes the
// session read the invalidations first.
const refreshCatalog = "LOCK TABLE pg_catalog.pg_namespace IN ACCESS SHARE MODE"

// migrateLockClass keys the advisory lock that lets one replica at a time
// migrate ('lmig' as int4).
const migrateLockClass = "1819109735"

// Migrate brings loadsvc's own tables to SchemaVersion, one replica at a
// time (an advisory lock), in one transaction on one pooled connection. It
// is cheap once the tables are current: one query, no lock, no privilege
// beyond reading them. Tables newer than this binary are a *VersionError.
func (e *Executor) Migrate(ctx context.Context) error {
	if e.Pool == nil {
		return loader.ErrNoDatabase
	}
	conn, err := e.acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return e.migrate(ctx, conn.Conn())
}

// migrate runs Migrate on conn, outside any transaction of a load, and
// remembers success for the process.
func (e *Executor) migrate(ctx context.Context, conn *pgx.Conn) error {
	if e.migrated.Load() {
		return nil
	}
	v, err := e.tablesVersion(ctx, conn)
	if err == nil && v < SchemaVersion() {
		err = e.migrateLocked(ctx, conn)
	}
	if err == nil {
		e.migrated.Store(true)
	}
	return err
}

// versionTable is the table that records the applied steps, in the
// ledger's schema.
func (e *Executor) versionTable() string {
	return loader.QuoteIdent(e.Ledger.WithDefaults().Schema) + ".schema_version"
}

// Every query here is of the simple protocol, as every load's: behind
// PgBouncer in transaction mode a prepared statement would outlive its
// server connection.

// tablesVersion is the newest step applied, 0 for none, or a *VersionError
// when that is newer than this binary.
func (e *Executor) tablesVersion(ctx context.Context, conn *pgx.Conn) (int, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.QueryExecModeSimpleProtocol, e.versionTable()).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+e.versionTable(), pgx.QueryExecModeSimpleProtocol).Scan(&v); err != nil {
		return 0, err
	}
	if v > SchemaVersion() {
		return v, &VersionError{Schema: e.Ledger.WithDefaults().Schema, Tables: v, Known: SchemaVersion()}
	}
	return v, nil
}

// migrateLocked applies the missing steps under the migration lock, reading
// the version again once the lock is held: another replica may have
// migrated meanwhile.
func (e *Executor) migrateLocked(ctx context.Context, conn *pgx.Conn) (err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollbackQuietly(tx))
		}
	}()
	schema := loader.QuoteIdent(e.Ledger.WithDefaults().Schema)
	for _, sql := range []string{
		"SELECT pg_advisory_xact_lock(" + migrateLockClass + ", 0)",
		refreshCatalog,
		"CREATE SCHEMA IF NOT EXISTS " + schema,
		"CREATE TABLE IF NOT EXISTS " + e.versionTable() + ` (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now())`,
	} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return err
		}
	}
	v, err := e.tablesVersion(ctx, conn)
	if err != nil {
		return err
	}
	for _, m := range migrations[v:] {
		for _, sql := range m.sql(e) {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("migrating loadsvc's tables to version %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+e.versionTable()+" (version, name) VALUES ($1, $2)", pgx.QueryExecModeSimpleProtocol, m.version, m.name); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// rollbackQuietly ends a failed migration's transaction; its error matters
// only when the rollback itself fails.
func rollbackQuietly(tx pgx.Tx) error {
	ctx, cancel := context.WithTimeout(context.Background(), statementGrace)
	defer cancel()
	if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}

// ledgerDDL is version 1: the request_id ledger. IF NOT EXISTS adopts a
// ledger that a loadsvc from before versioning created on first use.
func ledgerDDL(e *Executor) []string {
	return []string{"CREATE TABLE IF NOT EXISTS " + e.Ledger.Target() + ` (
  request_id  text PRIMARY KEY,
  target      text NOT NULL,
  mode        text NOT NULL,
  digest      text NOT NULL,
  result      jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now())`}
}
