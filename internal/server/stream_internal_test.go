package server

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
)

// panickyStream is a stream whose receive panics, as a decoding bug would.
type panickyStream struct{ grpc.ServerStream }

func (panickyStream) Context() context.Context { return context.Background() }
func (panickyStream) RecvMsg(any) error        { panic("decoding bug") }

// A panic while a stream message is received — on a goroutine of its own,
// outside the handler's recovery — becomes the stream's error, logged with
// its stack, and the process lives.
func TestStreamPanicBecomesAnError(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	s := New(&pgexec.Executor{}, Options{Logger: zap.New(core)})
	src := &streamSource{s: s, stream: panickyStream{}}
	defer src.close()
	_, err := src.Next(context.Background())
	if err == nil || !strings.Contains(err.Error(), "internal error receiving a stream message") {
		t.Fatalf("Next: %v", err)
	}
	if logs.FilterMessage("panic receiving a stream message").Len() != 1 {
		t.Errorf("the panic was not logged: %v", logs.All())
	}
}
