package testenv

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Process is the loadsvc binary running as a process of its own, for the
// tests that need one: its memory, another language's client, the README's
// commands.
type Process struct {
	Addr   string      // the loopback address it listens on
	Out    *SyncBuffer // its standard output and error
	Cmd    *exec.Cmd
	done   chan error    // how it ended, put back by every reader
	exited chan struct{} // closed when it ended
}

// startTimeout bounds how long a started service may take to listen or to
// serve.
const startTimeout = 20 * time.Second

// StartProcess runs bin with --listen on a free loopback address, then args.
// Its environment is PATH, HOME and env, nothing else of the test's. The
// test's cleanup kills it and, when the test failed, logs its output.
// StartProcess returns once the address accepts connections.
func StartProcess(t *testing.T, bin string, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{Addr: FreeAddr(t), Out: &SyncBuffer{}, done: make(chan error, 1), exited: make(chan struct{})}
	p.Cmd = exec.Command(bin, append([]string{"--listen", p.Addr}, args...)...)
	p.Cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Out, p.Out
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.done <- p.Cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if err := p.Cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("killing loadsvc: %v", err)
		}
		<-p.exited
		if t.Failed() {
			t.Logf("loadsvc output:\n%s", p.Out.String())
		}
	})
	p.waitListening(t)
	return p
}

// Terminate sends the process SIGTERM and returns how it ended, failing
// the test when it has not ended within the bound.
func (p *Process) Terminate(t *testing.T, within time.Duration) error {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(within):
		t.Fatalf("loadsvc did not exit within %v of SIGTERM\n%s", within, p.Out.String())
		return nil
	}
}

// waitListening waits until the address accepts connections, failing when
// the process ends first or startTimeout passes.
func (p *Process) waitListening(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("loadsvc ended before it listened: %v\n%s", err, p.Out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("loadsvc did not listen on %s: %v\n%s", p.Addr, err, p.Out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitServing waits until service answers SERVING on conn, the process's
// connection.
func (p *Process) WaitServing(t *testing.T, conn *grpc.ClientConn, service string) {
	t.Helper()
	WaitServing(t, conn, service, p.done, p.Out)
}

// WaitServing waits up to startTimeout until service ("" for the server as
// a whole) answers SERVING on conn, failing early when done says the
// service ended (the error is put back for the next reader) and showing out
// when it fails.
func WaitServing(t *testing.T, conn *grpc.ClientConn, service string, done chan error, out *SyncBuffer) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		cancel()
		if err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING {
			return
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("loadsvc ended before serving: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("loadsvc did not serve %q: %v %v\n%s", service, resp, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
