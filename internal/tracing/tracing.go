package tracing

import (
	"context"
	"fmt"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"google.golang.org/grpc"
)

// Tracing is a tracer provider and the gRPC and pgx instrumentation that
// report to it. It sets no OpenTelemetry globals.
type Tracing struct {
	tp    *sdktrace.TracerProvider
	props propagation.TextMapPropagator
}

// newTracing makes a Tracing for serviceName whose spans go to proc (a
// batcher of the OTLP exporter, or a syncer of a test's in-memory one).
func newTracing(ctx context.Context, serviceName string, proc sdktrace.TracerProviderOption) (*Tracing, error) {
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(serviceName)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return &Tracing{
		tp:    sdktrace.NewTracerProvider(proc, sdktrace.WithResource(res)),
		props: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

// ServerOption is the otelgrpc stats handler: a server span per call,
// continuing the caller's trace (W3C traceparent), health checks left out.
func (t *Tracing) ServerOption() grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.tp),
		otelgrpc.WithPropagators(t.props),
		otelgrpc.WithMeterProvider(noop.NewMeterProvider()), // metrics are Prometheus'
		otelgrpc.WithFilter(filters.Not(filters.HealthCheck())),
	))
}

// QueryTracer is the pgx tracer (otelpgx) for pgxpool.Config.ConnConfig.Tracer:
// spans for queries, prepares, batches, connects and pool acquires, each
// under the span of the call that ran it. Query arguments are never
// recorded.
func (t *Tracing) QueryTracer() pgx.QueryTracer {
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(t.tp),
		otelpgx.WithMeterProvider(noop.NewMeterProvider()),
	)
}

// Shutdown flushes the spans still buffered and stops the provider.
func (t *Tracing) Shutdown(ctx context.Context) error {
	return t.tp.Shutdown(ctx)
}
