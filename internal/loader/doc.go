// Package loader is what a load of rows into one PostgreSQL table is,
// without any database: the config and its checks, the rows (Batch, Source)
// and the Intake every batch of a load passes through (columns, key values,
// the row limit, counts, the payload digest), the plan (NewPlan) with its
// statements and psql script, the SQL each mode renders (Render), the COPY
// text encoding, the Result, the catalog's view of the target (Table), the
// name of the exactly-once Ledger, and what a load session is (Session, its
// offsets and refusals).
//
// Running a load is pgexec's: it executes what this package renders on one
// pooled PostgreSQL connection inside one transaction, through pgx. This
// package imports no driver, no gRPC and no protobuf; its errors are typed
// (ValidationError, ConnectError, UnknownColumnError, LoadError with its
// Kind, ConflictError; RowErrors listing bad rows, each a RowError) —
// pgexec classifies the driver's errors into them and the server maps them
// to status codes.
package loader
