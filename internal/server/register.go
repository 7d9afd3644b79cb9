package server

import (
	"context"

	"google.golang.org/grpc"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Register serves srv as loadsvc.v1.LoadService on gs. Its handlers take
// each request message off the wire undecoded, so the server of gs must
// have the codec of ServerOptions.
func Register(gs grpc.ServiceRegistrar, srv *Server) {
	gs.RegisterService(&serviceDesc, srv)
}

// loadService is what serviceDesc's handlers call.
type loadService interface {
	handleLoad(ctx context.Context, m *message) (*loadsvcv1.LoadResponse, error)
	handleStream(stream grpc.ServerStream) error
	handleBeginLoad(ctx context.Context, m *message) (*loadsvcv1.LoadSession, error)
	handleAppendRows(ctx context.Context, m *message) (*loadsvcv1.AppendRowsResponse, error)
	handleSession(ctx context.Context, method string, id string) (any, error)
	handleListLoads(ctx context.Context, req *loadsvcv1.ListLoadsRequest) (*loadsvcv1.ListLoadsResponse, error)
}

// serviceDesc is the generated loadsvc.v1.LoadService with handlers of
// loadsvc's own: same names, same wire, same reflection metadata.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: loadsvcv1.LoadService_ServiceDesc.ServiceName,
	HandlerType: (*loadService)(nil),
	Methods: []grpc.MethodDesc{
		messageMethod("Load", loadsvcv1.LoadService_Load_FullMethodName, func(srv loadService, ctx context.Context, m *message) (any, error) {
			return srv.handleLoad(ctx, m)
		}),
		messageMethod("BeginLoad", loadsvcv1.LoadService_BeginLoad_FullMethodName, func(srv loadService, ctx context.Context, m *message) (any, error) {
			return srv.handleBeginLoad(ctx, m)
		}),
		messageMethod("AppendRows", loadsvcv1.LoadService_AppendRows_FullMethodName, func(srv loadService, ctx context.Context, m *message) (any, error) {
			return srv.handleAppendRows(ctx, m)
		}),
		sessionMethod("GetLoadSession", loadsvcv1.LoadService_GetLoadSession_FullMethodName, func() sessionRequest { return new(loadsvcv1.GetLoadSessionRequest) }),
		sessionMethod("CommitLoad", loadsvcv1.LoadService_CommitLoad_FullMethodName, func() sessionRequest { return new(loadsvcv1.CommitLoadRequest) }),
		{MethodName: "ListLoads", Handler: listLoadsHandler},
		sessionMethod("AbortLoad", loadsvcv1.LoadService_AbortLoad_FullMethodName, func() sessionRequest { return new(loadsvcv1.AbortLoadRequest) }),
	},
	Streams: []grpc.StreamDesc{{StreamName: "LoadStream", ClientStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error { return srv.(loadService).handleStream(stream) }}},
	Metadata: loadsvcv1.LoadService_ServiceDesc.Metadata,
}

// messageMethod is a unary method whose handler takes its request off the
// wire undecoded (see message).
func messageMethod(name, full string, h func(srv loadService, ctx context.Context, m *message) (any, error)) grpc.MethodDesc {
	return grpc.MethodDesc{MethodName: name, Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		m := new(message)
		if err := dec(m); err != nil {
			return nil, err
		}
		defer m.free() // a no-op once the handler admitted m
		if interceptor == nil {
			return h(srv.(loadService), ctx, m)
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: full}
		return interceptor(ctx, m, info, func(ctx context.Context, req any) (any, error) {
			return h(srv.(loadService), ctx, req.(*message))
		})
	}}
}

// sessionRequest is a request that names a load session and nothing else.
type sessionRequest interface {
	GetSessionId() string
}

// sessionMethod is a unary method on a session named by its request, a
// small message decoded as gRPC decodes any.
func sessionMethod(name, full string, newReq func() sessionRequest) grpc.MethodDesc {
	return grpc.MethodDesc{MethodName: name, Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		req := newReq()
		if err := dec(req); err != nil {
			return nil, err
		}
		if interceptor == nil {
			return srv.(loadService).handleSession(ctx, name, req.GetSessionId())
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: full}
		return interceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return srv.(loadService).handleSession(ctx, name, req.(sessionRequest).GetSessionId())
		})
	}}
}

// listLoadsHandler decodes a ListLoadsRequest with the proto codec (it is
// no *message) and calls handleListLoads.
func listLoadsHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	req := new(loadsvcv1.ListLoadsRequest)
	if err := dec(req); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(loadService).handleListLoads(ctx, req)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: loadsvcv1.LoadService_ListLoads_FullMethodName}
	return interceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return srv.(loadService).handleListLoads(ctx, req.(*loadsvcv1.ListLoadsRequest))
	})
}
