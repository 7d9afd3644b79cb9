// Package pgbouncer holds no code of its own: its tests prove that loadsvc
// loads correctly through a real PgBouncer (Debian's package, installed by
// `make postgres`) in transaction-pooling mode, where consecutive
// transactions of one client connection may run on different server
// connections and one server connection serves many clients.
//
// TestMain starts a throwaway PostgreSQL cluster (internal/pgtest) and a
// pgbouncer process in front of it, with pool_mode = transaction and a server
// pool (default_pool_size = 4) smaller than the service's pgx pool
// (pool_max_conns = 12), so that pgx connections share server connections.
// The tests run the in-process gRPC server on a pool whose URL points at
// PgBouncer, with and without default_query_exec_mode=exec, and check the
// tables and the cluster (no open transaction, no TEMP table) directly.
package pgbouncer
