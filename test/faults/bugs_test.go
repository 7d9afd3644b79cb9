package faults_test

import "testing"

// Bugs these tests found. Each constant is the t.Skip message of the
// scenarios that meet the bug; set it to "" once the bug is fixed to run
// them again.

// bugStreamCopyRace: the scenarios that hit it are skipped under the race
// detector only (without it they pass).
//
// When a LoadStream's session dies mid-COPY (backend terminated, server
// restarted, connection reset), pgconn.CopyFrom returns on the fatal error
// without waiting for its reader goroutine (pgconn.go: the early returns on
// bufferingReceiveErr and on a FATAL ErrorResponse skip wg.Wait). That
// goroutine is inside loader.chunkReader.Read → countingSource.Next →
// server.streamSource.recv, and its writes of countingSource.rows
// (internal/loader/executor.go) and streamSource.bytes/msgs
// (internal/server/stream.go) race with RunStream's read of counted.rows and
// LoadStream's read of src.bytes; it may also still call stream.Recv after
// the handler returned.
const bugStreamCopyRace = "" // fixed: the COPY reader is stopped and closed under its lock before the feed is touched again

// skipStreamRace skips a scenario that kills a stream's session mid-COPY
// while the bug above is open and the race detector is on.
func skipStreamRace(t *testing.T) {
	t.Helper()
	if raceEnabled && bugStreamCopyRace != "" {
		t.Skip(bugStreamCopyRace)
	}
}

// bugStaleRetries: after PostgreSQL restarted, the first load fails with
// UNAVAILABLE "3 pooled connections in a row were dead" when the pool held
// 3 or more idle connections (pgxpool's default pool_max_conns is
// max(4, NumCPU)). internal/loader/executor.go begin() gives up after
// maxStaleRetries = 3 dead pooled connections, but every idle connection of
// the pool is dead after a restart, and pgxpool pings only connections idle
// for more than a second. Fix: bound the retries by the pool's size,
// int(e.Pool.Config().MaxConns)+1 (what pgxpool.Acquire itself does), so
// that the pool is emptied of corpses and a fresh connection is tried.
const bugStaleRetries = "" // fixed: begin() tries past every dead pooled connection

// bugNoClientBound: a load whose client set no deadline hangs for as long
// as a network blackhole lasts (here: until the test heals it; on a real
// network: until TCP keepalive gives up, minutes), whatever
// statement_timeout says: the server's timeout error cannot cross the
// blackhole, and the executor puts no client-side bound on a statement
// (internal/loader/executor.go inTx/session and load.go run/copyAll pass
// the request's context unchanged). Fix: when StatementTimeout > 0, run each
// statement (BEGIN, SET, the catalog query, COPY, DELETE/INSERT, COMMIT)
// under context.WithTimeout(ctx, StatementTimeout + a grace of a few
// seconds) — the server would have cancelled it by then, so a longer wait
// means the network is gone — and map that deadline to ABORTED/UNAVAILABLE
// (connection lost) rather than the client's DEADLINE_EXCEEDED.
const bugNoClientBound = "" // fixed: each statement waits at most statement_timeout plus a grace for its answer
