package server

import (
	"context"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ServerOptions are what every loadsvc gRPC server runs: a panic in a
// handler becomes INTERNAL with a generic message — no panic text or stack
// reaches the client — and is logged with its stack, and the service stays
// up; and a stats handler counts each RPC's received bytes for the access
// log and the observer.
func ServerOptions(log *zap.Logger) []grpc.ServerOption {
	handler := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		log.Error("panic in handler", zap.String("method", method), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
		return status.Error(codes.Internal, "internal error; the service logged the details")
	})
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor(handler)),
		grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor(handler)),
		grpc.StatsHandler(payloadCounter{}),
		grpc.ForceServerCodecV2(codec{}),
	}
}
