// Package tracing turns on OpenTelemetry tracing of loadsvc — a server span
// per gRPC call (otelgrpc's stats handler) and a client span per pgx query,
// acquire and connect under it (github.com/exaring/otelpgx) — exported over
// OTLP/gRPC. It is off unless the standard OpenTelemetry environment asks
// for it; see [Setup].
//
// Spans carry the SQL text of a statement (loadsvc's statements hold
// identifiers, never row values) but never its arguments, and the rows of
// a load never pass through the tracer at all: they go to PostgreSQL in a
// COPY on the raw connection, which pgx does not trace. Health checks are
// not traced, so that probes do not flood the collector.
package tracing
