// Package metrics exposes loadsvc's Prometheus metrics: what the loads do,
// the standard gRPC server metrics, the connection pool, and the Go runtime
// and process, served over HTTP on a listener of their own.
//
// # The load metrics
//
// A [Metrics] is the server's [server.Observer]; it keeps
//
//	loadsvc_loads_total{method,mode,table,code,plan_only,dry_run} every Load / LoadStream RPC
//	loadsvc_rows_total{method,mode,table}                    rows loaded (OK executing loads)
//	loadsvc_bytes_total{method,mode,table}                   request bytes loaded (OK executing loads)
//	loadsvc_load_duration_seconds{method,mode}               executing loads, every code; 1 ms … 10 min
//	loadsvc_inflight_loads{method}                           RPCs running now
//
// method is the RPC ("Load", "LoadStream"), mode the loader's name of the
// mode ("delete_insert", "append", …, "unknown" for a request that named none
// the server knows), code the gRPC code as grpc_server_handled_total spells it
// ("OK", "AlreadyExists", …).
//
// Plan-only requests are counted in loadsvc_loads_total with
// plan_only="true" and nowhere else: they load nothing, and their sub-
// millisecond durations would drown the histogram of real loads. The server
// knows a request was a plan from its response, so a plan-only request that
// fails (a bad config) is counted with plan_only="false".
//
// table is the table as the request named it ("schema.table" when the schema
// was given), for requests that passed admission (a valid config, the
// allowlist); every refused request counts as "(refused)", so that junk
// names cannot squat label slots. It is never a secret and never a row
// value, but it is chosen by the client, so it is bounded as well: a name that cannot be a PostgreSQL table
// (empty, control characters, longer than two 63-byte identifiers) is counted
// as "(invalid)", and past [MaxTables] distinct tables further ones are
// counted as "(other)".
//
// Dry runs (dry_run="true") run and are rolled back: they count in
// loadsvc_loads_total and the duration histogram, not in rows or bytes.
//
// # gRPC, pool, runtime
//
// [Metrics.ServerOptions] are the go-grpc-middleware Prometheus interceptors
// (grpc_server_started_total, grpc_server_handled_total,
// grpc_server_msg_received_total, grpc_server_msg_sent_total and the
// grpc_server_handling_seconds histogram). [PoolCollector] reads
// pgxpool.Stat at scrape time (loadsvc_pool_*). [New] also registers the Go
// runtime and process collectors; a registry that has them already (such as
// prometheus.DefaultRegisterer) keeps its own.
//
// # Serving
//
// [Serve] runs an HTTP server with /metrics on an address of its own, so the
// gRPC port never answers HTTP; it is off unless the caller starts it
// (LOADSVC_METRICS_LISTEN).
package metrics
