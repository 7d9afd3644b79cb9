// Package pgexec runs loader plans on PostgreSQL through pgx. It owns the
// pool configuration and cancel handling (ConfigurePool), one pooled session
// and one transaction per load (Executor), the COPY feed, the catalog lookup
// (Describe), the exactly-once ledger's SQL, the schema of loadsvc's own
// tables (Migrate), the load sessions kept in PostgreSQL (SessionStore:
// durable UNLOGGED stages appended to by many writers, applied by one
// commit), and the one place where pgx and pgconn errors are classified
// into loader error kinds.
//
// What a load is — its config, its rows, its statements, its refusals and
// its error types — is the loader package's, which knows no driver; pgexec
// only runs it. A load takes one pooled connection, runs every statement on
// that one session inside one transaction — a TEMP staging table dropped on
// commit, a text COPY into it, the mode's DELETE/INSERT — and gives the
// connection back clean whether the load succeeded, failed or was cancelled.
//
// A load that fails on a row, and a load with a reject budget, runs
// carefully (careful.go): a stage phase COPYs its rows under savepoints and
// searches a failed piece for its bad values, each probed alone for
// PostgreSQL's own verdict; an apply phase runs the mode's statements on
// what was staged, tracing a failed constraint to the staged rows that
// break it (trace.go), and runs again without them (apply.go). What it
// finds is kept in verdicts.go, which decides between the rejected rows of
// a result and a failure naming every bad row.
package pgexec
