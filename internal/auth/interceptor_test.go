package auth_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/auth"
)

// testService answers with the caller's principal in the header
// "principal"; EmptyCall also asks the policy about the table in the
// metadata "x-schema"/"x-table" and answers the resolved schema in "schema".
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	policy *auth.Policy
}

func (s *testService) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no principal in the context")
	}
	hdr := metadata.Pairs("principal", p.Name)
	md, _ := metadata.FromIncomingContext(ctx)
	if table := md.Get("x-table"); len(table) == 1 {
		schema, err := s.policy.Allow(ctx, strings.Join(md.Get("x-schema"), ""), table[0])
		if err != nil {
			return nil, err
		}
		hdr.Set("schema", schema)
	}
	return &testgrpc.Empty{}, grpc.SetHeader(ctx, hdr)
}

func (s *testService) StreamingOutputCall(_ *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	p, ok := auth.FromContext(stream.Context())
	if !ok {
		return status.Error(codes.Internal, "no principal in the stream context")
	}
	if err := stream.SetHeader(metadata.Pairs("principal", p.Name)); err != nil {
		return err
	}
	return stream.Send(&testgrpc.StreamingOutputCallResponse{})
}

// rig is a real gRPC server on loopback with the test service, health and
// reflection behind the Authenticator, and a client connection to it.
type rig struct {
	auth *auth.Authenticator
	logs *observer.ObservedLogs
	conn *grpc.ClientConn
}

func newRig(t *testing.T, tokenFile, allowTables string) *rig {
	t.Helper()
	a, logs := newAuth(t, tokenFile)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(a.ServerOptions()...)
	testgrpc.RegisterTestServiceServer(gs, &testService{policy: mustPolicy(t, allowTables)})
	healthpb.RegisterHealthServer(gs, health.NewServer())
	reflection.Register(gs)
	var wg sync.WaitGroup
	wg.Go(func() { _ = gs.Serve(lis) })
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); gs.Stop(); wg.Wait() })
	return &rig{auth: a, logs: logs, conn: conn}
}

// callCtx is a context for one call, with "authorization: <auth>" unless
// auth is empty, and further metadata pairs.
func callCtx(t *testing.T, auth string, kv ...string) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	if auth != "" {
		kv = append(kv, "authorization", auth)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// unary calls EmptyCall and returns the header metadata.
func (r *rig) unary(ctx context.Context) (metadata.MD, error) {
	var hdr metadata.MD
	_, err := testgrpc.NewTestServiceClient(r.conn).EmptyCall(ctx, &testgrpc.Empty{}, grpc.Header(&hdr))
	return hdr, err
}

// stream calls StreamingOutputCall and returns the principal it reports.
func (r *rig) stream(ctx context.Context) (string, error) {
	s, err := testgrpc.NewTestServiceClient(r.conn).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
	if err != nil {
		return "", err
	}
	if _, err := s.Recv(); err != nil {
		return "", err
	}
	hdr, err := s.Header()
	return strings.Join(hdr.Get("principal"), ","), err
}

// reflect lists the services through the reflection service.
func (r *rig) reflect(ctx context.Context) ([]string, error) {
	s, err := reflectionpb.NewServerReflectionClient(r.conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer s.CloseSend() // grpc-go's always returns nil; the stream ends with ctx
	req := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}
	if err := s.Send(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	} // on io.EOF the server has ended the stream: Recv has its status
	resp, err := s.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	return names, nil
}

func TestCallsWithoutValidTokenAreRefused(t *testing.T) {
	t.Parallel()
	good, wrong := newToken(t, 24), newToken(t, 24)
	r := newRig(t, tokenFile(t, good+" name=worker-a\n"), "")
	for _, authz := range []string{"", "Bearer " + wrong, "Bearer " + good[:20], "Basic " + good, good} {
		for name, call := range map[string]func(context.Context) error{
			"unary":      func(ctx context.Context) error { _, err := r.unary(ctx); return err },
			"stream":     func(ctx context.Context) error { _, err := r.stream(ctx); return err },
			"reflection": func(ctx context.Context) error { _, err := r.reflect(ctx); return err },
			"unimplemented": func(ctx context.Context) error {
				_, err := testgrpc.NewTestServiceClient(r.conn).UnimplementedCall(ctx, &testgrpc.Empty{})
				return err
			},
		} {
			err := call(callCtx(t, authz))
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("%s with %d-byte authorization: %v, want UNAUTHENTICATED", name, len(authz), err)
			}
			if msg := status.Convert(err).Message(); strings.Contains(msg, good[:20]) || strings.Contains(msg, wrong) {
				t.Errorf("%s: message %q holds a token", name, msg)
			}
		}
	}
	if r.logs.FilterMessage("unauthenticated call refused").Len() == 0 {
		t.Error("refusals were not logged")
	}
	noSecrets(t, r.logs, good, good[:20], wrong)
}

func TestCallsWithTokenPass(t *testing.T) {
	t.Parallel()
	tok := newToken(t, 24)
	r := newRig(t, tokenFile(t, tok+" name=worker-a\n"), "")
	hdr, err := r.unary(callCtx(t, "Bearer "+tok))
	if err != nil || strings.Join(hdr.Get("principal"), "") != "worker-a" {
		t.Errorf("unary: principal %v, err %v", hdr.Get("principal"), err)
	}
	if p, err := r.stream(callCtx(t, "Bearer "+tok)); err != nil || p != "worker-a" {
		t.Errorf("stream: principal %q, err %v", p, err)
	}
	services, err := r.reflect(callCtx(t, "Bearer "+tok))
	if err != nil || !slices.Contains(services, "grpc.testing.TestService") {
		t.Errorf("reflection: %v, %v", services, err)
	}
	noSecrets(t, r.logs, tok)
}

func TestHealthNeedsNoToken(t *testing.T) {
	t.Parallel()
	r := newRig(t, tokenFile(t, newToken(t, 24)+"\n"), "")
	hc := healthpb.NewHealthClient(r.conn)
	resp, err := hc.Check(callCtx(t, ""), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Check: %v, %v", resp, err)
	}
	w, err := hc.Watch(callCtx(t, "Bearer not-a-token"), &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = w.Recv()
	}
	if err != nil {
		t.Errorf("Watch: %v", err)
	}
}

func TestRotationOverGRPC(t *testing.T) {
	t.Parallel()
	oldTok, newTok := newToken(t, 24), newToken(t, 24)
	file := tokenFile(t, oldTok+" name=worker-a\n"+newTok+" name=worker-a\n")
	r := newRig(t, file, "")
	for _, tok := range []string{oldTok, newTok} {
		if _, err := r.unary(callCtx(t, "Bearer "+tok)); err != nil {
			t.Fatalf("both tokens should pass during rotation: %v", err)
		}
	}
	writeFile(t, file, newTok+" name=worker-a\n")
	if err := r.auth.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.unary(callCtx(t, "Bearer "+oldTok)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("old token after rotation: %v, want UNAUTHENTICATED", err)
	}
	if _, err := r.stream(callCtx(t, "Bearer "+oldTok)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("old token after rotation, stream: %v, want UNAUTHENTICATED", err)
	}
	if _, err := r.unary(callCtx(t, "Bearer "+newTok)); err != nil {
		t.Errorf("new token after rotation: %v", err)
	}
	noSecrets(t, r.logs, oldTok, newTok)
}

func TestPerTokenAllowlistOverGRPC(t *testing.T) {
	t.Parallel()
	worker, admin := newToken(t, 24), newToken(t, 24)
	file := tokenFile(t, worker+" name=worker-a tables=staging.nav_*\n"+admin+" name=admin\n")
	r := newRig(t, file, "public.*,staging.*")
	for _, tc := range []struct {
		token, schema, table string
		want                 string // resolved schema, or the refusal's allowlist
		code                 codes.Code
	}{
		{worker, "staging", "nav_1", "staging", codes.OK},
		{worker, "staging", "orders", `token "worker-a"`, codes.PermissionDenied},
		{worker, "", "demo_nav", `token "worker-a"`, codes.PermissionDenied},
		{admin, "staging", "orders", "staging", codes.OK},
		{admin, "", "demo_nav", "public", codes.OK},
		{admin, "other", "t", "LOADSVC_ALLOW_TABLES", codes.PermissionDenied},
	} {
		hdr, err := r.unary(callCtx(t, "Bearer "+tc.token, "x-schema", tc.schema, "x-table", tc.table))
		st := status.Convert(err)
		switch {
		case st.Code() != tc.code:
			t.Errorf("%q.%q: %v, want %v", tc.schema, tc.table, err, tc.code)
		case tc.code == codes.OK && strings.Join(hdr.Get("schema"), "") != tc.want:
			t.Errorf("%q.%q: schema %v, want %q", tc.schema, tc.table, hdr.Get("schema"), tc.want)
		case tc.code != codes.OK && (!strings.Contains(st.Message(), tc.want) || !strings.Contains(st.Message(), tc.table)):
			t.Errorf("%q.%q: message %q should name the table and %s", tc.schema, tc.table, st.Message(), tc.want)
		case strings.Contains(st.Message(), worker) || strings.Contains(st.Message(), admin):
			t.Errorf("message %q holds a token", st.Message())
		}
	}
	noSecrets(t, r.logs, worker, admin)
}
