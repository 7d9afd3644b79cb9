// Package faults holds loadsvc's fault-injection tests (package faults_test)
// and, in netfault, the TCP proxy they inject network faults with.
//
// Every scenario injects its fault for real — a backend terminated with
// pg_terminate_backend, PostgreSQL stopped or restarted, a client that
// cancels or whose deadline passes, a pool held busy, a connection reset or
// blackholed by a proxy — against the in-process service (server.New on a
// pgexec.Executor and a pgxpool configured with pgexec.ConfigurePool,
// served over real gRPC on a loopback port). After each one the tests check
// that the target table holds exactly what it should, that no session is
// left idle in transaction, that no TEMP table and no advisory lock remain,
// that the pooled sessions are clean, and that the pool serves the next
// load.
//
// Tests that stop or restart PostgreSQL start a cluster of their own; the
// others share one cluster, each with a fresh database.
//
// TestSoak runs mixed concurrent loads while backends are killed; its length
// is the flag -soak.duration (5s by default, as part of the normal run;
// `make soak` runs it for 2 minutes, or SOAK_DURATION, without the race
// detector).
package faults
