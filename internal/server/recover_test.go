package server_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// panicky panics on plan_only requests with a secret-looking text.
type panicky struct {
	loadsvcv1.UnimplementedLoadServiceServer
}

func (panicky) Load(_ context.Context, req *loadsvcv1.LoadRequest) (*loadsvcv1.LoadResponse, error) {
	if req.GetConfig().GetPlanOnly() {
		panic("boom: internal detail s3cr3t")
	}
	return &loadsvcv1.LoadResponse{Table: req.GetConfig().GetTable()}, nil
}

// A panic in a handler is INTERNAL with a generic message, logged with its
// stack, and the service goes on serving.
func TestPanicIsInternal(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.ErrorLevel)
	gs := grpc.NewServer(server.ServerOptions(zap.New(core))...)
	loadsvcv1.RegisterLoadServiceServer(gs, panicky{})
	c := loadsvcv1.NewLoadServiceClient(testenv.ServeGRPC(t, gs))

	_, err := c.Load(context.Background(), &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", PlanOnly: true}})
	st := wantCode(t, err, codes.Internal, "internal error")
	if strings.Contains(st.Message(), "s3cr3t") || strings.Contains(st.Message(), "goroutine") {
		t.Errorf("panic text reached the client: %q", st.Message())
	}
	entries := logs.FilterMessage("panic in handler").All()
	if len(entries) != 1 || !strings.Contains(string(entries[0].ContextMap()["stack"].(string)), "panicky") {
		t.Errorf("panic not logged with its stack: %v", entries)
	}
	if resp, err := c.Load(context.Background(), &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t"}}); err != nil || resp.Table != "t" {
		t.Errorf("after the panic: %v %v", resp, err)
	}
}
