package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/loadsvc/loadsvc/internal/testenv"
)

// binProc is the loadsvc binary running as a process of its own, for the
// tests that measure the process itself.
type binProc struct {
	cmd  *exec.Cmd
	addr string
	out  *testenv.SyncBuffer
	conn *grpc.ClientConn
	done chan error
}

// startBinary runs the binary with args and env (and nothing of the test's
// own database environment) and waits until it serves health checks.
func startBinary(t *testing.T, env []string, args ...string) *binProc {
	t.Helper()
	p := &binProc{addr: testenv.FreeAddr(t), out: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, append([]string{"--listen", p.addr}, args...)...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill() //nolint:errcheck // may have exited
		if t.Failed() {
			t.Logf("loadsvc output:\n%s", p.out.String())
		}
	})
	p.conn, _ = dial(t, p.addr)
	waitServing(t, p.conn, p.done, p.out)
	return p
}

// peakRSS is the process's peak resident set size in bytes (VmHWM).
func (p *binProc) peakRSS(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/<pid>/status")
	return 0
}
