package auth

import (
	"context"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// TapHandle is a grpc.InTapHandle (see ServerOptions). It authenticates a
// call from its headers alone, before gRPC reads a byte of its body, so an
// unauthenticated caller never makes the server decode — or even buffer —
// a message: it gets UNAUTHENTICATED at once. An accepted call runs with
// its Principal in its context (FromContext), and its context is cancelled
// with ErrTokenRevoked when a reload removes its token. Health checks pass
// without a token.
//
// gRPC runs it on the connection's reader with a transport lock held: it
// only hashes and compares.
func (a *Authenticator) TapHandle(ctx context.Context, info *tap.Info) (context.Context, error) {
	if strings.HasPrefix(info.FullMethodName, openPrefix) {
		return ctx, nil
	}
	p, h, err := a.authenticate(info.Header)
	if err != nil {
		a.logRefusal(ctx, info.FullMethodName, err)
		return nil, err
	}
	ctx, end := a.live.add(ctx, h)
	if !a.cur.Load().holds(h) { // a reload removed the token meanwhile
		end()
		return nil, revokedStatus()
	}
	a.log.Debug("call authenticated", zap.String("method", info.FullMethodName), zap.String("principal", p.Name))
	return NewContext(ctx, p), nil
}

// logRefusal logs a refused call with its reason, never its token.
func (a *Authenticator) logRefusal(ctx context.Context, method string, err error) {
	a.log.Warn("unauthenticated call refused", zap.String("method", method), zap.String("peer", peerAddr(ctx)),
		zap.String("reason", status.Convert(err).Message()))
}

// revokedStatus is the UNAUTHENTICATED status of a call whose token was
// removed while it ran.
func revokedStatus() error {
	return status.Error(codes.Unauthenticated, ErrTokenRevoked.Error()+
		"; the call was ended: retry with a token of the current file")
}
