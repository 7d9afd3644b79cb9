package testenv

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// AuthRecorder is a pair of server interceptors that note the authorization
// header of every RPC, for tests of what a client sends.
type AuthRecorder struct {
	mu    sync.Mutex
	auths []string
}

// ServerOptions installs the recorder's interceptors (pass to GRPCServer).
func (r *AuthRecorder) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			r.note(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			r.note(ss.Context())
			return h(srv, ss)
		}),
	}
}

func (r *AuthRecorder) note(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auths = append(r.auths, strings.Join(md.Get("authorization"), ","))
}

// Seen is the authorization header of each RPC so far, in order ("" for
// none).
func (r *AuthRecorder) Seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auths...)
}
