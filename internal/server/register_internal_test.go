package server

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
)

// countingPool counts the buffers given back to it.
type countingPool struct{ puts int }

func (p *countingPool) Get(n int) *[]byte { b := make([]byte, n); return &b }
func (p *countingPool) Put(*[]byte)       { p.puts++ }

// A message refused before its handler admits it (an interceptor that
// refuses the call, as authentication does) still gives gRPC's buffers back.
func TestMessageMethodFreesUnadmittedMessage(t *testing.T) {
	for _, name := range []string{"Load", "BeginLoad", "AppendRows"} {
		pool := &countingPool{}
		raw := make([]byte, 4096) // above gRPC's pooling threshold
		data := mem.BufferSlice{mem.NewBuffer(&raw, pool)}
		desc := messageMethod(name, "/x/"+name, func(loadService, context.Context, *message) (any, error) {
			t.Fatal("the handler ran past a refusing interceptor")
			return nil, nil
		})
		dec := func(v any) error { return codec{}.Unmarshal(data, v) }
		refuse := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
			return nil, errors.New("refused")
		}
		if _, err := desc.Handler(nil, context.Background(), dec, refuse); err == nil {
			t.Fatalf("%s: no error from a refusing interceptor", name)
		}
		data.Free() // gRPC's own reference, given back after the handler
		if pool.puts != 1 {
			t.Errorf("%s: %d buffers given back to the pool; want 1", name, pool.puts)
		}
	}
}
