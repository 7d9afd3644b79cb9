package auth

import (
	"context"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// openPrefix is the one service callable without a token: health checks
// come from load balancers and orchestrators that hold none. Reflection is
// not open.
const openPrefix = "/grpc.health.v1.Health/"

// ServerOptions returns the unary and stream interceptors as options for
// grpc.NewServer; they chain after interceptors given before them.
func (a *Authenticator) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	}
}

// UnaryServerInterceptor refuses a unary call without a valid bearer
// token (UNAUTHENTICATED) and puts the caller's Principal in the context
// of the handler. Health checks pass without a token.
func (a *Authenticator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := a.admit(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls,
// reflection among them.
func (a *Authenticator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := a.admit(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &principalStream{ServerStream: ss, ctx: ctx})
	}
}

// admit authenticates a call to method and returns the context the
// handler gets.
func (a *Authenticator) admit(ctx context.Context, method string) (context.Context, error) {
	if strings.HasPrefix(method, openPrefix) {
		return ctx, nil
	}
	p, err := a.Authenticate(ctx)
	if err != nil {
		a.log.Warn("unauthenticated call refused", zap.String("method", method), zap.String("peer", peerAddr(ctx)),
			zap.String("reason", status.Convert(err).Message()))
		return nil, err
	}
	a.log.Debug("call authenticated", zap.String("method", method), zap.String("principal", p.Name))
	return NewContext(ctx, p), nil
}

// principalStream is a server stream whose context carries the Principal.
type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}
