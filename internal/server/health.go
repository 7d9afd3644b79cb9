package server

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// ServiceName is the health service name that reports the database's state.
var ServiceName = loadsvcv1.LoadService_ServiceDesc.ServiceName

// WatchDatabase keeps the health status of loadsvc.v1.LoadService in step
// with the database until ctx ends: SERVING while a ping through the pool
// succeeds, NOT_SERVING while it fails or no database is configured. The
// overall status "" is not touched: the service itself stays up, and plans
// work without a database. A pool with every connection in use is busy, not
// down, and is not pinged. Ping errors are logged redacted.
func (s *Server) WatchDatabase(ctx context.Context, hs *health.Server, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, every)
		busy, err := s.exec.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if !busy {
			s.setHealth(hs, err)
		}
		if errors.Is(err, loader.ErrNoDatabase) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) setHealth(hs *health.Server, err error) {
	st := healthpb.HealthCheckResponse_SERVING
	if err != nil {
		st = healthpb.HealthCheckResponse_NOT_SERVING
		s.opt.Logger.Debug("database health check failed", zap.String("error", s.opt.Redact(err.Error())))
	}
	hs.SetServingStatus(ServiceName, st)
}
