package server

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc/stats"
)

// payloadCounter counts each RPC's received bytes as gRPC reads them off the
// wire, so that logs and metrics get a load's size without walking its
// messages again (proto.Size of a 10,000-row request costs as much as a
// fair part of decoding it).
type payloadCounter struct{}

type payloadKey struct{}

func (payloadCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, payloadKey{}, new(atomic.Int64))
}

func (payloadCounter) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InPayload); ok {
		if n, ok := ctx.Value(payloadKey{}).(*atomic.Int64); ok {
			n.Add(int64(in.WireLength))
		}
	}
}

func (payloadCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (payloadCounter) HandleConn(context.Context, stats.ConnStats) {}

// receivedBytes is what the RPC of ctx received so far (0 without the
// counter of ServerOptions).
func receivedBytes(ctx context.Context) int64 {
	if n, ok := ctx.Value(payloadKey{}).(*atomic.Int64); ok {
		return n.Load()
	}
	return 0
}
