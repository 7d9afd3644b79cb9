package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMillionRowsInBoundedMemory loads a generated 1,000,000-row CSV file
// with the built loadctl binary and checks the process's peak resident
// memory: the file is streamed, never held.
func TestMillionRowsInBoundedMemory(t *testing.T) {
	t.Parallel()
	const rows = 1_000_000
	const limit = 150 << 20
	s := startService(t)
	s.exec(t, `CREATE TABLE big (id bigint PRIMARY KEY, code text, amount numeric, day date, note text)`)
	binc := make(chan string, 1)
	go func() { binc <- buildLoadctl(t) }() // while the file is written
	path := writeBigCSV(t, rows)
	bin := <-binc
	if bin == "" {
		t.FailNow()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "load", "--addr", s.addr, "--table", "big", "--mode", "append", "--chunk-size", "10000", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peakc := make(chan int64, 1)
	go func() { peakc <- watchHWM(cmd.Process.Pid) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("loadctl: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	took := time.Since(began)
	peak := <-peakc
	st, _ := os.Stat(path)
	t.Logf("loaded %d rows (%d MiB of CSV) in %v, loadctl CPU %v; peak RSS %d MiB\n%s", rows, st.Size()>>20,
		took.Round(time.Millisecond), (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Round(time.Millisecond), peak>>20, stdout.String())
	if peak < 1<<20 {
		t.Fatalf("no VmHWM read from /proc (peak %d bytes)", peak)
	}
	if peak > limit {
		t.Errorf("peak RSS %d MiB, want under %d MiB", peak>>20, limit>>20)
	}
	if !strings.Contains(stdout.String(), fmt.Sprintf("inserted            %d\n", rows)) {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "loaded ") {
		t.Errorf("no progress lines on stderr:\n%s", stderr.String())
	}
	got := s.query(t, `SELECT count(*) || ' ' || sum(id) || ' ' || count(note) || ' ' || max(note) FILTER (WHERE id = 7) FROM big`)
	if want := fmt.Sprintf(`%d %d %d row 7, "quoted"`, rows, int64(rows)*(rows+1)/2, rows-rows/10); got[0] != want {
		t.Errorf("table: got %s, want %s", got[0], want)
	}
}

// watchHWM returns the last VmHWM (peak resident memory, bytes) read from
// /proc/pid/status before the process ended. (The rusage of a child is no
// good here: its maxrss counts the parent's memory it was forked from.)
func watchHWM(pid int) int64 {
	var peak int64
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return peak
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var kib int64
				fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib) //nolint:errcheck // zero if absent
				peak = max(peak, kib<<10)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeBigCSV writes n rows of varied text, every tenth note NULL. It
// appends bytes rather than calling fmt per row: under -race that is the
// difference between one second and fifteen.
func writeBigCSV(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "big.csv")
	buf := append(make([]byte, 0, 64*n), "id,code,amount,day,note\n"...)
	for i := 1; i <= n; i++ {
		buf = strconv.AppendInt(buf, int64(i), 10)
		c := i % 10000
		buf = append(buf, ',', 'P', byte('0'+c/1000), byte('0'+c/100%10), byte('0'+c/10%10), byte('0'+c%10), ',')
		buf = strconv.AppendInt(buf, int64(i/7), 10)
		buf = append(buf, '.', byte('0'+i%10), byte('0'+i/10%10), ',')
		buf = append(buf, "2024-0"...)
		buf = append(buf, byte('1'+i%9), '-', '1', byte('0'+i%10), ',')
		if i%10 != 0 {
			buf = append(buf, `"row `...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, `, ""quoted"""`...)
		}
		buf = append(buf, '\n')
	}
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildLoadctl builds this command into a temporary directory, or
// reports an error and returns "" (it may run in another goroutine).
func buildLoadctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "loadctl")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Errorf("go build: %v\n%s", err, out)
		return ""
	}
	return bin
}
