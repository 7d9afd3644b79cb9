package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/loadsvc/loadsvc/internal/testenv"
)

// binProc is the loadsvc binary running as a process of its own, for the
// tests that measure the process itself.
type binProc struct {
	*testenv.Process
	conn *grpc.ClientConn
}

// startBinary runs the binary with args and env (and nothing of the test's
// own database environment) and waits until it serves health checks.
func startBinary(t *testing.T, env []string, args ...string) *binProc {
	t.Helper()
	p := &binProc{Process: testenv.StartProcess(t, binary, env, args...)}
	p.conn, _ = dial(t, p.Addr)
	p.WaitServing(t, p.conn, "")
	return p
}

// peakRSS is the process's peak resident set size in bytes (VmHWM).
func (p *binProc) peakRSS(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/status")
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
