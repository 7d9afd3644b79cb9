package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
)

// panickyStream is a stream whose receive panics, as a decoding bug would.
type panickyStream struct{ grpc.ServerStream }

func (panickyStream) Context() context.Context { return context.Background() }
func (panickyStream) RecvMsg(any) error        { panic("decoding bug") }

// A panic while a stream message is received — on a goroutine of its own,
// where nothing would recover it — is raised again in the goroutine that
// asked for the message, with the receiver's stack, for the load's one
// recovery (at the COPY reader, or the handler's) to report.
func TestStreamReceivePanicReachesTheReader(t *testing.T) {
	s := New(&pgexec.Executor{}, Options{})
	src := &streamSource{s: s, stream: panickyStream{}, claim: s.newClaim(true)}
	defer src.close()
	defer func() {
		p := recover()
		if text := fmt.Sprint(p); !strings.Contains(text, "decoding bug") || !strings.Contains(text, "panickyStream.RecvMsg") {
			t.Errorf("Next raised %v, want the receiver's panic with its stack", p)
		}
	}()
	_, err := src.Next(context.Background())
	t.Fatalf("Next returned %v instead of raising the panic", err)
}
