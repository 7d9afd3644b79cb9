package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// ShutdownTimeout bounds how long a scrape in progress may finish once the
// metrics server stops.
const ShutdownTimeout = 5 * time.Second

// Serve listens on addr and serves g on /metrics until ctx ends, then
// stops gracefully. It returns nil after a stop that ctx asked for, and the
// error otherwise (the address is taken, say).
func Serve(ctx context.Context, addr string, g prometheus.Gatherer, log *zap.Logger) error {
	if addr == "" {
		return errors.New("metrics: no listen address")
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return ServeListener(ctx, lis, g, log)
}

// ServeListener is Serve on a listener of the caller's, which it closes.
// It logs nothing of its own ending: the caller has the error.
func ServeListener(ctx context.Context, lis net.Listener, g prometheus.Gatherer, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	srv := &http.Server{Handler: Handler(g, log), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	log.Info("serving metrics", zap.String("listen", lis.Addr().String()), zap.String("path", "/metrics"))
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc // http.ErrServerClosed
	if err != nil {
		return fmt.Errorf("metrics: a scrape still running %v into the shutdown was cut: %w", ShutdownTimeout, errors.Join(err, srv.Close()))
	}
	return nil
}

// Handler serves g on /metrics, and nothing else.
func Handler(g prometheus.Gatherer, log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      zap.NewStdLog(log),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}
