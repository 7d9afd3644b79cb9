package auth_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// FullDuplexCall answers every message until the client closes its side or
// the call's context ends.
func (s *testService) FullDuplexCall(stream grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{}); err != nil {
			return err
		}
	}
}

// UnaryCall waits for its context to end when asked to fill the user name,
// and returns the context's error; otherwise it answers at once.
func (s *testService) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if req.GetFillUsername() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &testgrpc.SimpleResponse{}, nil
}

// countingCodec is the proto codec, counting the messages it decodes.
type countingCodec struct {
	encoding.CodecV2
	decoded atomic.Int64
}

func (c *countingCodec) Unmarshal(data mem.BufferSlice, v any) error {
	c.decoded.Add(1)
	return c.CodecV2.Unmarshal(data, v)
}

// serveWith starts a server with opts and the test service and returns a
// client connection to it.
func serveWith(t *testing.T, opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(opts...)
	testgrpc.RegisterTestServiceServer(gs, &testService{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = gs.Serve(lis) })
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); gs.Stop(); wg.Wait() })
	return conn
}

// A call without a valid token is refused from its headers: its body is
// neither decoded nor even held against the size limit. With only the
// interceptors, the same call is read and refused for its size first.
func TestTapRefusesBeforeTheBodyIsRead(t *testing.T) {
	t.Parallel()
	tok := newToken(t, 24)
	a, _ := newAuth(t, tokenFile(t, tok+" name=worker-a\n"))
	big := &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: make([]byte, 1<<20)}}
	for _, tc := range []struct {
		name    string
		opts    []grpc.ServerOption
		authz   string
		want    codes.Code
		decoded int64
	}{
		{"tap, no token", a.ServerOptions(), "", codes.Unauthenticated, 0},
		{"tap, wrong token", a.ServerOptions(), "Bearer " + newToken(t, 24), codes.Unauthenticated, 0},
		{"tap, valid token", a.ServerOptions(), "Bearer " + tok, codes.ResourceExhausted, 0},
		{"interceptors only, no token", []grpc.ServerOption{grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor())}, "", codes.ResourceExhausted, 0},
	} {
		codec := &countingCodec{CodecV2: encoding.GetCodecV2(proto.Name)}
		opts := append([]grpc.ServerOption{grpc.MaxRecvMsgSize(1024), grpc.ForceServerCodecV2(codec)}, tc.opts...)
		conn := serveWith(t, opts...)
		_, err := testgrpc.NewTestServiceClient(conn).UnaryCall(callCtx(t, tc.authz), big)
		if status.Code(err) != tc.want || codec.decoded.Load() != tc.decoded {
			t.Errorf("%s: %v after %d decoded messages; want %v after %d", tc.name, err, codec.decoded.Load(), tc.want, tc.decoded)
		}
	}
}

// The tap authenticates small calls too, and the handler finds the
// principal: nothing is decoded for a refused call, one message for an
// accepted one.
func TestTapDecodesOnlyAuthenticatedCalls(t *testing.T) {
	t.Parallel()
	tok := newToken(t, 24)
	a, _ := newAuth(t, tokenFile(t, tok+" name=worker-a\n"))
	codec := &countingCodec{CodecV2: encoding.GetCodecV2(proto.Name)}
	conn := serveWith(t, append([]grpc.ServerOption{grpc.ForceServerCodecV2(codec)}, a.ServerOptions()...)...)
	client := testgrpc.NewTestServiceClient(conn)
	if _, err := client.EmptyCall(callCtx(t, ""), &testgrpc.Empty{}); status.Code(err) != codes.Unauthenticated || codec.decoded.Load() != 0 {
		t.Errorf("no token: %v after %d decoded messages", err, codec.decoded.Load())
	}
	if _, err := client.EmptyCall(callCtx(t, "Bearer "+tok), &testgrpc.Empty{}); err != nil || codec.decoded.Load() != 1 {
		t.Errorf("token: %v after %d decoded messages", err, codec.decoded.Load())
	}
}

// openDuplex opens a FullDuplexCall with authz and checks one round trip.
func openDuplex(t *testing.T, r *rig, authz string) grpc.BidiStreamingClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse] {
	t.Helper()
	s, err := testgrpc.NewTestServiceClient(r.conn).FullDuplexCall(callCtx(t, authz))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&testgrpc.StreamingOutputCallRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatalf("first round trip: %v", err)
	}
	return s
}

// A token removed from the file ends the calls it authenticated within
// one watch interval: a unary call whose handler returns the context's
// error with UNAUTHENTICATED naming the removal, streams waiting in Recv
// with CANCELLED (gRPC answers those itself); the calls of the tokens that
// stay run on, and no ended call stays registered.
func TestRemovedTokenEndsItsRunningCalls(t *testing.T) {
	t.Parallel()
	gone, kept := newToken(t, 24), newToken(t, 24)
	file := tokenFile(t, gone+" name=worker-a\n"+kept+" name=worker-b\n")
	r := newRig(t, file, "")
	watchCtx, stopWatch := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.auth.Watch(watchCtx, 50*time.Millisecond) })
	defer func() { stopWatch(); wg.Wait() }()

	unary := make(chan error, 1)
	go func() {
		_, err := testgrpc.NewTestServiceClient(r.conn).UnaryCall(callCtx(t, "Bearer "+gone), &testgrpc.SimpleRequest{FillUsername: true})
		unary <- err
	}()
	doomed := []grpc.BidiStreamingClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]{
		openDuplex(t, r, "Bearer "+gone), openDuplex(t, r, "Bearer "+gone)}
	survivor := openDuplex(t, r, "Bearer "+kept)
	waitLive(t, r, 4)
	writeFile(t, file, kept+" name=worker-b\n")
	began := time.Now()
	for i, s := range doomed {
		if _, err := s.Recv(); status.Code(err) != codes.Canceled {
			t.Errorf("stream %d of the removed token: %v, want CANCELLED", i, err)
		}
	}
	err := <-unary
	if st := status.Convert(err); st.Code() != codes.Unauthenticated || !strings.Contains(st.Message(), "removed from the token file") {
		t.Errorf("unary call of the removed token: %v, want UNAUTHENTICATED naming the removal", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("the calls ended %v after the removal; the watch interval is 50ms", took)
	}
	checkSurvivor(t, survivor)
	waitLive(t, r, 0)
	if r.logs.FilterMessage("ended running calls whose token was removed from the token file").Len() != 1 {
		t.Error("the revocation was not logged once")
	}
	noSecrets(t, r.logs, gone, kept)
}

// checkSurvivor makes one more round trip on s and closes it.
func checkSurvivor(t *testing.T, s grpc.BidiStreamingClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) {
	t.Helper()
	if err := s.Send(&testgrpc.StreamingOutputCallRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Errorf("the call of the kept token: %v", err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("the kept call's end: %v", err)
	}
}

// waitLive waits until the registry holds n calls.
func waitLive(t *testing.T, r *rig, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.auth.LiveCalls() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d live calls, want %d", r.auth.LiveCalls(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Calls that end normally leave the registry: a long run of calls does not
// grow it.
func TestFinishedCallsLeaveTheRegistry(t *testing.T) {
	t.Parallel()
	tok := newToken(t, 24)
	r := newRig(t, tokenFile(t, tok+"\n"), "")
	for range 50 {
		if _, err := r.unary(callCtx(t, "Bearer "+tok)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.stream(callCtx(t, "Bearer "+tok)); err != nil {
			t.Fatal(err)
		}
	}
	waitLive(t, r, 0)
}
