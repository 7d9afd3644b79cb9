package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// The defaults, and every knob from its variable and its flag.
func TestTransportConfig(t *testing.T) {
	t.Parallel()
	def, err := loadConfig(nil, environ(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := transport{MaxConcurrentStreams: 100, KeepaliveMinTime: 10 * time.Second, KeepaliveTime: time.Minute,
		KeepaliveTimeout: 20 * time.Second, MaxConnectionIdle: 15 * time.Minute}
	if def.transport != want || def.ReloadInterval != 10*time.Second || def.AllowUnauthenticated {
		t.Errorf("defaults %+v, reload %v, allow %v", def.transport, def.ReloadInterval, def.AllowUnauthenticated)
	}
	env, err := loadConfig(nil, environ([]string{"LOADSVC_MAX_CONCURRENT_STREAMS=7", "LOADSVC_KEEPALIVE_MIN_TIME=1m",
		"LOADSVC_KEEPALIVE_TIME=2m", "LOADSVC_KEEPALIVE_TIMEOUT=3s", "LOADSVC_MAX_CONNECTION_IDLE=0", "LOADSVC_RELOAD_INTERVAL=1s",
		"LOADSVC_ALLOW_UNAUTHENTICATED=true"}))
	if err != nil {
		t.Fatal(err)
	}
	want = transport{7, time.Minute, 2 * time.Minute, 3 * time.Second, 0}
	if env.transport != want || env.ReloadInterval != time.Second || !env.AllowUnauthenticated {
		t.Errorf("from the environment %+v, reload %v, allow %v", env.transport, env.ReloadInterval, env.AllowUnauthenticated)
	}
	flags, err := loadConfig([]string{"--max-concurrent-streams=8", "--keepalive-min-time=5s", "--keepalive-time=6s",
		"--keepalive-timeout=7s", "--max-connection-idle=8s", "--reload-interval=9s", "--allow-unauthenticated"},
		environ([]string{"LOADSVC_MAX_CONCURRENT_STREAMS=7"}))
	if err != nil {
		t.Fatal(err)
	}
	want = transport{8, 5 * time.Second, 6 * time.Second, 7 * time.Second, 8 * time.Second}
	if flags.transport != want || flags.ReloadInterval != 9*time.Second || !flags.AllowUnauthenticated {
		t.Errorf("from flags %+v, reload %v, allow %v", flags.transport, flags.ReloadInterval, flags.AllowUnauthenticated)
	}
	for _, bad := range []string{"LOADSVC_MAX_CONCURRENT_STREAMS=-1", "LOADSVC_RELOAD_INTERVAL=0s", "LOADSVC_KEEPALIVE_TIME=soon"} {
		if _, err := loadConfig(nil, environ([]string{bad})); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// --max-concurrent-streams bounds the calls of one connection: with 1, a
// second call on a connection that holds a stream waits, while another
// connection is served.
func TestMaxConcurrentStreams(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--max-concurrent-streams", "1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch, err := healthpb.NewHealthClient(p.conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := healthpb.NewHealthClient(p.conn).Check(short, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a second call on the connection: %v, want it to wait (DEADLINE_EXCEEDED)", err)
	}
	other, _ := dial(t, p.addr)
	if _, err := healthpb.NewHealthClient(other).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("a call on another connection: %v", err)
	}
}
