package auth

import (
	"context"
	"errors"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// openPrefix is the one service callable without a token: health checks
// come from load balancers and orchestrators that hold none. Reflection is
// not open.
const openPrefix = "/grpc.health.v1.Health/"

// ServerOptions returns the options that put the Authenticator in front
// of a grpc.Server: TapHandle as its grpc.InTapHandle (a server has only
// one; a second panics in grpc.NewServer), so calls are authenticated
// before their body is read, and the unary and stream interceptors, which
// turn a call ended by a token's removal into UNAUTHENTICATED. The
// interceptors chain after interceptors given before them.
func (a *Authenticator) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InTapHandle(a.TapHandle),
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	}
}

// UnaryServerInterceptor makes sure a unary call is authenticated — by
// TapHandle, or else here from its metadata (UNAUTHENTICATED without a
// valid bearer token) — and reports a call ended because its token was
// removed as UNAUTHENTICATED. The handler finds the caller's Principal in
// its context. Health checks pass without a token.
func (a *Authenticator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, end, err := a.admit(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		defer end()
		resp, err := handler(ctx, req)
		return resp, revoked(ctx, err)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls,
// reflection among them.
func (a *Authenticator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, end, err := a.admit(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		defer end()
		if ctx != ss.Context() {
			ss = &principalStream{ServerStream: ss, ctx: ctx}
		}
		return revoked(ctx, handler(srv, ss))
	}
}

// admit returns the context the handler of a call to method gets, and
// what to call when the handler returns. A call TapHandle admitted, or an
// open one, passes as it is; any other is authenticated here.
func (a *Authenticator) admit(ctx context.Context, method string) (context.Context, func(), error) {
	if _, ok := FromContext(ctx); ok || strings.HasPrefix(method, openPrefix) {
		return ctx, func() {}, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	p, h, err := a.authenticate(md)
	if err != nil {
		a.logRefusal(ctx, method, err)
		return nil, nil, err
	}
	ctx, end := a.live.add(ctx, h)
	a.log.Debug("call authenticated", zap.String("method", method), zap.String("principal", p.Name))
	return NewContext(ctx, p), end, nil
}

// revoked turns the error of a handler whose call was ended by a token's
// removal into UNAUTHENTICATED; any other error passes unchanged. (A
// stream ended while its handler waits in Recv is answered by gRPC itself,
// with CANCELLED, before the handler returns.)
func revoked(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), ErrTokenRevoked) {
		return revokedStatus()
	}
	return err
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
