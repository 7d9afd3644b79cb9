package deploy_test

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loadsvc/loadsvc/internal/testenv"
)

// nonroot is distroless's "nonroot" user and group, the image's USER.
const nonroot = 65532

// TestBinaryIsStatic: the image's binary needs no loader and no shared
// library (distroless/static has none), is stripped and holds no path of
// the machine that built it.
func TestBinaryIsStatic(t *testing.T) {
	t.Parallel()
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked", p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Error("the binary has a .dynamic section")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	if s := f.Section(".symtab"); s != nil {
		t.Error("the binary has a symbol table: -ldflags=-s missing")
	}
	raw, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{root, filepath.Dir(binDir)} {
		if bytes.Contains(raw, []byte(path)) {
			t.Errorf("the binary holds the build path %s: -trimpath missing", path)
		}
	}
}

// TestBinaryServesAsNonRoot runs the binary as the image does — as uid and
// gid 65532 (when the test runs as root; else as the test's own non-root
// user), with the image's --listen, no database and an empty environment —
// and asks its gRPC health service, as the kubelet's probes do.
func TestBinaryServesAsNonRoot(t *testing.T) {
	t.Parallel()
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(binary, "--listen", addr)
	cmd.Env = []string{}
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nonroot, Gid: nonroot}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	checkUID(t, cmd.Process.Pid)
	checkHealth(t, addr, out)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit 20s after SIGTERM\n%s", out.String())
	}
}

// checkUID fails unless the process runs as a non-root user, 65532 when
// the test could choose.
func checkUID(t *testing.T, pid int) {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || (fields[0] != "Uid:" && fields[0] != "Gid:") {
			continue
		}
		id, _ := strconv.Atoi(fields[1])
		if id == 0 || (os.Geteuid() == 0 && id != nonroot) {
			t.Errorf("%s %s; want %d", fields[0], fields[1], nonroot)
		}
	}
}

// checkHealth waits until the server answers health checks: "" SERVING
// (what the probes ask) and loadsvc.v1.LoadService NOT_SERVING (no
// database).
func checkHealth(t *testing.T, addr string, out *testenv.SyncBuffer) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health of \"\": %v %v; want SERVING\n%s", resp.GetStatus(), err, out.String())
	}
	resp, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "loadsvc.v1.LoadService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health of loadsvc.v1.LoadService without a database: %v %v; want NOT_SERVING", resp.GetStatus(), err)
	}
}
