package tracing

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
)

func TestEnabled(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env     map[string]string
		on, err bool
	}{
		{env: nil},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}},
		{env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, err: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, err: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}}, // off: no endpoint, no exporter
	} {
		on, err := enabled(func(k string) string { return c.env[k] })
		if on != c.on || (err != nil) != c.err {
			t.Errorf("%v: on %v, err %v; want on %v, error %v", c.env, on, err, c.on, c.err)
		}
	}
}

// TestSetupOff: unconfigured, Setup hands out things that do nothing and
// are safe to use as they are.
func TestSetupOff(t *testing.T) {
	t.Parallel()
	opt, tracer, shutdown, err := setup(context.Background(), "loadsvc", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := opt.(grpc.EmptyServerOption); !ok {
		t.Errorf("option %T, want grpc.EmptyServerOption", opt)
	}
	if tracer != nil {
		t.Errorf("tracer %T, want nil", tracer)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	grpc.NewServer(opt).Stop()
}

// TestSetupOn: configured, Setup makes an OTLP exporter (it connects
// lazily, so no collector is needed) and its shutdown returns.
func TestSetupOn(t *testing.T) {
	t.Parallel()
	env := map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}
	opt, tracer, shutdown, err := setup(context.Background(), "loadsvc", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if opt == nil || tracer == nil {
		t.Fatalf("option %v, tracer %v; want both", opt, tracer)
	}
	grpc.NewServer(opt).Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Error(err)
	}
}
