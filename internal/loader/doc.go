// Package loader plans and executes loads of rows into one PostgreSQL table.
//
// A load has two halves. The planner (NewPlan) is pure: it validates the
// config and the rows, fixes the column list and renders the statements and a
// psql script, without any database. The Executor runs a plan on exactly one
// pooled connection inside one transaction — a TEMP staging table dropped on
// commit, a text COPY into it, the mode's DELETE/INSERT — and gives the
// connection back clean whether the load succeeded, failed or was cancelled.
//
// The package knows nothing of gRPC: its errors are typed (ValidationError,
// ConnectError, LoadError) and the server maps them to status codes.
package loader
