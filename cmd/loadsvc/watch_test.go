package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// The watch attack of TestWatchStreamsCapped: watchAttempts Watch streams
// without a token, watchesPerConn on each connection (the server's
// default LOADSVC_MAX_CONCURRENT_STREAMS), against the default cap.
const (
	watchCap       = 100
	watchAttempts  = 2000
	watchesPerConn = 100
)

// Issue 19 #7: Health/Watch needs no token, so its streams are capped
// (LOADSVC_MAX_WATCH_STREAMS, 100 by default) and end at shutdown. With
// tokens configured, 2,000 Watch streams without a token over 20
// connections: 100 are served, 1,900 are RESOURCE_EXHAUSTED naming the
// setting, Check still answers, and the server's peak RSS grows by less
// than 16 MiB. On SIGTERM every served Watch gets NOT_SERVING and then
// UNAVAILABLE, and the graceful stop ends on its own (the process does not
// wait for the watches and exits 0). Before: all 2,000 were served, and
// 10,000 cost +126 MB and ended only when the server, 2 s into its
// shutdown, closed their connections.
func TestWatchStreamsCapped(t *testing.T) {
	t.Parallel()
	p := startBinary(t, []string{"LOADSVC_AUTH_TOKENS_FILE=" + writeTokens(t, bombToken+" name=worker-a\n")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := p.peakRSS(t)
	start := time.Now()
	held, refused := openWatches(ctx, t, p.Addr)
	took := time.Since(start)
	after := p.peakRSS(t)
	t.Logf("%d Watch streams without a token: %d served, %d RESOURCE_EXHAUSTED in %v; server peak RSS %s before, %s after, +%s",
		watchAttempts, len(held), refused, took.Round(time.Millisecond), mib(before), mib(after), mib(after-before))
	if len(held) != watchCap || refused != watchAttempts-watchCap {
		t.Fatalf("%d served and %d refused, want %d and %d", len(held), refused, watchCap, watchAttempts-watchCap)
	}
	if after-before >= 16<<20 {
		t.Errorf("peak RSS grew by %s, want < 16 MiB", mib(after-before))
	}
	conn, _ := dial(t, p.Addr)
	if resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Check beside the capped watches: %v %v", resp, err)
	}
	endings := make(chan string, len(held))
	for _, w := range held {
		go func() { endings <- watchEnding(w) }()
	}
	start = time.Now()
	if err := p.Terminate(t, 10*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	for range held {
		if e := <-endings; e != "" {
			t.Error(e)
		}
	}
	if !strings.Contains(p.Out.String(), "stopped: every call ended") {
		t.Errorf("the graceful stop did not end on its own:\n%s", p.Out.String())
	}
}

// openWatches opens watchAttempts Watch streams on addr, watchesPerConn
// on each connection, all at once, and returns those the server took; any
// other must be RESOURCE_EXHAUSTED naming LOADSVC_MAX_WATCH_STREAMS.
func openWatches(ctx context.Context, t *testing.T, addr string) (held []healthpb.Health_WatchClient, refused int) {
	t.Helper()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for range watchAttempts / watchesPerConn {
		conn, _ := dial(t, addr)
		hc := healthpb.NewHealthClient(conn)
		for range watchesPerConn {
			wg.Go(func() {
				w, err := openWatch(ctx, hc)
				mu.Lock()
				defer mu.Unlock()
				switch st := status.Convert(err); {
				case err == nil:
					held = append(held, w)
				case st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "LOADSVC_MAX_WATCH_STREAMS"):
					refused++
				default:
					t.Errorf("a Watch: %v", err)
				}
			})
		}
	}
	wg.Wait()
	return held, refused
}

// openWatch opens a Watch of the server as a whole and reads its first
// status, SERVING.
func openWatch(ctx context.Context, hc healthpb.HealthClient) (healthpb.Health_WatchClient, error) {
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return nil, err
	}
	first, err := w.Recv()
	if err != nil {
		return nil, err
	}
	if first.Status != healthpb.HealthCheckResponse_SERVING {
		return nil, status.Errorf(codes.Unknown, "first status %v, want SERVING", first.Status)
	}
	return w, nil
}

// watchEnding reads a served Watch to its end, which must be NOT_SERVING
// and then UNAVAILABLE saying the server is shutting down; it returns what
// was wrong, or "".
func watchEnding(w healthpb.Health_WatchClient) string {
	next, err := w.Recv()
	if err != nil || next.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		return fmt.Sprintf("a Watch at shutdown: %v %v, want NOT_SERVING", next, err)
	}
	_, err = w.Recv()
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "shutting down") {
		return fmt.Sprintf("a Watch's end: %v, want UNAVAILABLE saying the server is shutting down", err)
	}
	return ""
}
