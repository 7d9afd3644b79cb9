package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loadsvc/loadsvc/internal/pgcluster"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// buildServer compiles ./cmd/loadsvc of this module into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the loadsvc module; run from the repository or pass --server-bin")
	}
	bin := filepath.Join(dir, "loadsvc")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/loadsvc")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/loadsvc: %v\n%s", err, out)
	}
	return bin, nil
}

// server is a running loadsvc subprocess and a client connection to it.
type server struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	logPath string
	addr    string
	conn    *grpc.ClientConn
	client  loadsvcv1.LoadServiceClient
}

// startServer starts bin on a free loopback port against databaseURL,
// allowing Load requests of maxRows rows, with env added to its environment, and waits until its health service answers
// SERVING.
func startServer(ctx context.Context, bin, dir, databaseURL string, maxRows int, env []string) (*server, error) {
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		s, err := tryStartServer(ctx, bin, dir, databaseURL, maxRows, env)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func tryStartServer(ctx context.Context, bin, dir, databaseURL string, maxRows int, env []string) (*server, error) {
	port, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	s := &server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), logPath: filepath.Join(dir, "loadsvc.log"), done: make(chan struct{})}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	s.cmd = exec.Command(bin,
		"--listen", s.addr,
		"--database-url", databaseURL,
		"--max-recv-bytes", strconv.Itoa(256<<20),
		"--max-rows", strconv.Itoa(maxRows),
		"--log-format", "json",
	)
	s.cmd.Env = append(serverEnv(), env...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()

	s.conn, err = grpc.NewClient(s.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallSendMsgSize(256<<20), grpc.MaxCallRecvMsgSize(64<<20)),
	)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.client = loadsvcv1.NewLoadServiceClient(s.conn)
	if err := s.waitHealthy(ctx, 30*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// serverEnv is our environment without the variables that would give the
// server a database other than the --database-url we pass, or change its
// limits behind our back.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LOADSVC_") || strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (s *server) waitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	health := healthpb.NewHealthClient(s.conn)
	var lastErr error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("loadsvc exited while starting (%v):\n%s", s.waitErr, s.logTail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := health.Check(cctx, &healthpb.HealthCheckRequest{Service: loadsvcv1.LoadService_ServiceDesc.ServiceName})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("health status %s", resp.GetStatus())
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("loadsvc not healthy after %s: %v\n%s", timeout, lastErr, s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// alive reports an error when the server process has exited.
func (s *server) alive() error {
	select {
	case <-s.done:
		return fmt.Errorf("loadsvc exited (%v):\n%s", s.waitErr, s.logTail())
	default:
		return nil
	}
}

// stop ends the server with SIGTERM (a graceful stop), SIGKILL after 10s.
func (s *server) stop() {
	if s.conn != nil {
		s.conn.Close()
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM) // fails only when it has just exited: s.done says so
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill() // as above
		<-s.done
	}
}

// logTail is the end of the server's log, for error messages.
func (s *server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
