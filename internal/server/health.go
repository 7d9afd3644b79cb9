package server

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// ServiceName is the health service name that reports the database's state.
var ServiceName = loadsvcv1.LoadService_ServiceDesc.ServiceName

// WatchDatabase keeps the health status of loadsvc.v1.LoadService in step
// with the database until ctx ends: SERVING while a ping through the pool
// succeeds, NOT_SERVING while it fails or no database is configured. The
// overall status "" is not touched: the service itself stays up, and plans
// work without a database. A pool with every connection in use is busy, not
// down, and is not pinged.
func WatchDatabase(ctx context.Context, pool *pgxpool.Pool, hs *health.Server, every time.Duration, log *zap.Logger) {
	set := func(up bool, err error) {
		st := healthpb.HealthCheckResponse_SERVING
		if !up {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		hs.SetServingStatus(ServiceName, st)
		if err != nil {
			log.Debug("database health check failed", zap.Error(err))
		}
	}
	if pool == nil {
		set(false, nil)
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if st := pool.Stat(); st.AcquiredConns() < st.MaxConns() {
			pctx, cancel := context.WithTimeout(ctx, every)
			err := pool.Ping(pctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			set(err == nil, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
