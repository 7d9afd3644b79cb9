package server

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// HealthService is the grpc.health.v1.Health service loadsvc serves:
// health.Server, whose Watch streams anyone may open without a token, with
// those streams capped and ended at shutdown. Check and List are
// health.Server's own.
type HealthService struct {
	*health.Server
	slots    chan struct{} // one per running Watch; its capacity is the cap
	stopping context.Context
	stop     context.CancelFunc
}

// NewHealthService serves at most maxWatches Watch streams at once; one
// more is RESOURCE_EXHAUSTED. With 0 every Watch is refused.
func NewHealthService(maxWatches int) *HealthService {
	ctx, cancel := context.WithCancel(context.Background())
	return &HealthService{Server: health.NewServer(), slots: make(chan struct{}, maxWatches), stopping: ctx, stop: cancel}
}

// Shutdown turns every service NOT_SERVING, as health.Server's does, and
// then ends every Watch stream: each gets that status first, then
// UNAVAILABLE, so a graceful stop does not wait for them.
func (h *HealthService) Shutdown() {
	h.Server.Shutdown()
	h.stop()
}

// Watch is health.Server's Watch within the cap, ended by Shutdown.
func (h *HealthService) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	select {
	case h.slots <- struct{}{}:
	default:
		return watchesExhausted(cap(h.slots))
	}
	defer func() { <-h.slots }()
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(h.stopping, cancel)()
	ws := &watchStream{ServerStreamingServer: stream, ctx: ctx, last: -1}
	err := h.Server.Watch(req, ws)
	if h.stopping.Err() == nil || stream.Context().Err() != nil {
		return err
	}
	return h.lastWord(req, ws)
}

// lastWord sends a watch ended by Shutdown the service's status, unless it
// has it already, and ends it UNAVAILABLE.
func (h *HealthService) lastWord(req *healthpb.HealthCheckRequest, ws *watchStream) error {
	st := healthpb.HealthCheckResponse_SERVICE_UNKNOWN
	if resp, err := h.Check(ws.ServerStreamingServer.Context(), req); err == nil {
		st = resp.Status
	}
	if st != ws.last {
		if err := ws.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
			return err
		}
	}
	return watchShutdown()
}

// watchStream is a Watch's stream with the context that Shutdown ends,
// remembering the last status sent.
type watchStream struct {
	grpc.ServerStreamingServer[healthpb.HealthCheckResponse]
	ctx  context.Context
	last healthpb.HealthCheckResponse_ServingStatus
}

func (w *watchStream) Context() context.Context { return w.ctx }

func (w *watchStream) Send(resp *healthpb.HealthCheckResponse) error {
	w.last = resp.Status
	return w.ServerStreamingServer.Send(resp)
}
