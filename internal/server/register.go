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
	handleListLoads(ctx context.Context, req *loadsvcv1.ListLoadsRequest) (*loadsvcv1.ListLoadsResponse, error)
}

// serviceDesc is the generated loadsvc.v1.LoadService with handlers of
// loadsvc's own: same names, same wire, same reflection metadata.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: loadsvcv1.LoadService_ServiceDesc.ServiceName,
	HandlerType: (*loadService)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Load", Handler: loadHandler}, {MethodName: "ListLoads", Handler: listLoadsHandler}},
	Streams: []grpc.StreamDesc{{StreamName: "LoadStream", ClientStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error { return srv.(loadService).handleStream(stream) }}},
	Metadata: loadsvcv1.LoadService_ServiceDesc.Metadata,
}

func loadHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	m := new(message)
	if err := dec(m); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(loadService).handleLoad(ctx, m)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: loadsvcv1.LoadService_Load_FullMethodName}
	return interceptor(ctx, m, info, func(ctx context.Context, req any) (any, error) {
		return srv.(loadService).handleLoad(ctx, req.(*message))
	})
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
