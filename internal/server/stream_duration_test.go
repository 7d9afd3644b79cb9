package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/server"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Streams that drip one row at a time, never idle, hold their connections
// no longer than StreamMaxDuration: they end with DEADLINE_EXCEEDED naming
// LOADSVC_STREAM_MAX_DURATION, write nothing, and give their connections
// back to the loads waiting for them.
func TestDrippingStreamsEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, withMaxConns(2), withServer(func(o *server.Options) {
		o.StreamIdleTimeout, o.StreamMaxDuration = 10*time.Second, 2*time.Second
	}))
	b.exec1(t, `CREATE TABLE t (id bigint PRIMARY KEY, v text)`)
	b.exec1(t, `CREATE TABLE other (id bigint, v text)`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan error, 2)
	for i := range 2 {
		st, err := b.client.LoadStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&loadsvcv1.LoadStreamRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}}); err != nil {
			t.Fatal(err)
		}
		go func() {
			for n := 0; ; n++ { // a row every 100 ms until the server ends it
				if err := st.Send(typedIDs(i*1000+n, 1)); err != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			ended <- st.RecvMsg(new(loadsvcv1.LoadResponse))
		}()
	}
	b.wantStreamsEnded(t, ended, "the stream ran for 2s, the longest a stream may hold a connection (LOADSVC_STREAM_MAX_DURATION)")
}
