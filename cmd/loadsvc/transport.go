package main

import (
	"math"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// serverOptions bounds what one client connection may hold: calls at once
// (a client cannot open thousands of streams on one connection) and
// keepalive (a client cannot flood pings, a dead peer's connection is
// found and closed, an idle one is let go).
func (t transport) serverOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: t.KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: t.MaxConnectionIdle,
			Time:              t.KeepaliveTime,
			Timeout:           t.KeepaliveTimeout,
		}),
	}
	if t.MaxConcurrentStreams > 0 { // 0: gRPC's default, no bound
		opts = append(opts, grpc.MaxConcurrentStreams(uint32(min(t.MaxConcurrentStreams, math.MaxUint32))))
	}
	return opts
}
