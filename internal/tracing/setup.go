package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
)

// Setup starts tracing when the environment asks for it, and returns the
// gRPC server option of the stats handler, the tracer for the pgx pool
// (pgxpool.Config.ConnConfig.Tracer) and the shutdown that flushes the
// spans still buffered.
//
// Tracing is on when OTEL_TRACES_EXPORTER is "otlp", or when it is unset and
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set;
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turns it off. The
// exporter speaks OTLP over gRPC and reads the rest of the standard
// variables itself (endpoint, headers, OTEL_EXPORTER_OTLP_INSECURE, …);
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override serviceName and
// add to the resource, OTEL_TRACES_SAMPLER picks the sampler (default:
// parent-based, always on).
//
// Off, the option is a no-op grpc.EmptyServerOption (safe to append), the
// tracer nil (set it anyway: nil is pgx's "no tracer") and shutdown does
// nothing.
func Setup(ctx context.Context, serviceName string) (grpc.ServerOption, pgx.QueryTracer, func(context.Context) error, error) {
	return setup(ctx, serviceName, os.Getenv)
}

// setup is Setup deciding on getenv; the exporter itself reads the process
// environment.
func setup(ctx context.Context, serviceName string, getenv func(string) string) (grpc.ServerOption, pgx.QueryTracer, func(context.Context) error, error) {
	on, err := enabled(getenv)
	if err != nil || !on {
		return grpc.EmptyServerOption{}, nil, func(context.Context) error { return nil }, err
	}
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	t, err := newTracing(ctx, serviceName, sdktrace.WithBatcher(exp))
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, nil, nil, err
	}
	return t.ServerOption(), t.QueryTracer(), t.Shutdown, nil
}

// enabled reads the environment's choice: tracing on or off, or an error
// for an exporter or protocol this service does not have.
func enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	exporter := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	switch exporter {
	case "", "otlp":
	case "none":
		return false, nil
	default:
		return false, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q is not supported; use otlp or none", exporter)
	}
	if exporter == "" && getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return false, nil
	}
	for _, key := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(key)); p != "" {
			if p != "grpc" {
				return false, fmt.Errorf("tracing: %s=%q is not supported; this service exports OTLP over grpc", key, p)
			}
			break
		}
	}
	return true, nil
}
