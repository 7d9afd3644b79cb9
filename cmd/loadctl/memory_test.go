package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
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
	run := loadBounded(t, s, limit, func() string { return writeBigCSV(t, rows) }, "--table", "big")
	t.Logf("loaded %d rows (%d MiB of CSV) in %v, loadctl CPU %v; peak RSS %d MiB\n%s", rows, run.size>>20, run.took, run.cpu, run.peak>>20, run.stdout)
	if !strings.Contains(run.stdout, fmt.Sprintf("inserted            %d\n", rows)) {
		t.Errorf("stdout:\n%s", run.stdout)
	}
	if !strings.Contains(run.stderr, "loaded ") {
		t.Errorf("no progress lines on stderr:\n%s", run.stderr)
	}
	got := s.query(t, `SELECT count(*) || ' ' || sum(id) || ' ' || count(note) || ' ' || max(note) FILTER (WHERE id = 7) FROM big`)
	if want := fmt.Sprintf(`%d %d %d row 7, "quoted"`, rows, int64(rows)*(rows+1)/2, rows-rows/10); got[0] != want {
		t.Errorf("table: got %s, want %s", got[0], want)
	}
}

// boundedRun is what a run of the built loadctl binary printed and took.
type boundedRun struct {
	code           int // exit status
	stdout, stderr string
	size           int64 // the input file's
	took, cpu      time.Duration
	peak           int64 // peak resident memory, bytes
}

// loadBounded builds loadctl while write makes the input file, appends the
// file with `loadctl load --addr <s> --mode append --chunk-size 10000 args`,
// and fails the test unless loadctl succeeds with a peak resident memory
// under limit.
func loadBounded(t *testing.T, s *service, limit int64, write func() string, args ...string) boundedRun {
	t.Helper()
	binc := make(chan string, 1)
	go func() { binc <- buildLoadctl(t) }() // while the file is written
	path := write()
	bin := <-binc
	if bin == "" {
		t.FailNow()
	}
	run := runBounded(t, bin, s, limit, path, args...)
	if run.code != 0 {
		t.Fatalf("loadctl: exit %d\nstdout:\n%s\nstderr:\n%s", run.code, run.stdout, run.stderr)
	}
	return run
}

// runBounded runs `bin load --addr <s> --mode append --chunk-size 10000
// args path` and fails the test unless its peak resident memory stays under
// limit.
func runBounded(t *testing.T, bin string, s *service, limit int64, path string, args ...string) boundedRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args = append(append([]string{"load", "--addr", s.addr, "--mode", "append", "--chunk-size", "10000"}, args...), path)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peakc := make(chan int64, 1)
	go func() { peakc <- watchHWM(cmd.Process.Pid) }()
	var exit *exec.ExitError
	if err := cmd.Wait(); err != nil && !errors.As(err, &exit) {
		t.Fatalf("loadctl: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	run := boundedRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), took: time.Since(began).Round(time.Millisecond),
		cpu: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Round(time.Millisecond), peak: <-peakc}
	if st, err := os.Stat(path); err == nil {
		run.size = st.Size()
	}
	if run.peak < 1<<20 {
		t.Fatalf("no VmHWM read from /proc (peak %d bytes)", run.peak)
	}
	if run.peak > limit {
		t.Errorf("peak RSS %d MiB, want under %d MiB", run.peak>>20, limit>>20)
	}
	return run
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
				if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib); err == nil {
					peak = max(peak, kib<<10)
				}
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

// TestSheetOf200kRowsInBoundedMemory loads a 200,000-row sheet with the
// built loadctl binary and checks its peak resident memory against the
// 300 MiB the workbook reader promises: the sheet is streamed from the zip,
// never held.
func TestSheetOf200kRowsInBoundedMemory(t *testing.T) {
	t.Parallel()
	const rows = 200_000
	const limit = 300 << 20
	s := startService(t)
	s.exec(t, `CREATE TABLE "规模明细" ("月度" date, "业务类型" text, "计划代码" text, "计划名称" text,
		"期末资产规模" numeric(18,4), "供款" numeric(18,4), "当期收益率" numeric(10,6), "更新时间" timestamp)`)
	run := loadBounded(t, s, limit, func() string { return writeBigSheet(t, rows) }, "--table", "规模明细", "--sheet", "规模明细")
	t.Logf("loaded a %d-row sheet (%d MiB of .xlsx) in %v, loadctl CPU %v; peak RSS %d MiB", rows, run.size>>20, run.took, run.cpu, run.peak>>20)
	got := s.query(t, `SELECT count(*) || ' ' || sum("期末资产规模") || ' ' || count("供款") || ' ' || max("更新时间") FROM "规模明细"`)
	if want := fmt.Sprintf("%d %d.0000 %d 2024-12-01 09:30:00", rows, int64(rows)*(rows+1)/2, rows-rows/10); got[0] != want {
		t.Errorf("table: got %s, want %s", got[0], want)
	}
}

// writeBigSheet writes a workbook whose sheet 规模明细 has a header and n
// rows (every tenth 供款 empty) with excelize's stream writer.
func writeBigSheet(t *testing.T, n int) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if _, err := f.NewSheet("规模明细"); err != nil {
		t.Fatal(err)
	}
	date, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	stamp, err := f.NewStyle(&excelize.Style{NumFmt: 22})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := f.NewStreamWriter("规模明细")
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.SetRow("A1", []any{"月度", "业务类型", "计划代码", "计划名称", "期末资产规模", "供款", "当期收益率", "更新时间"}); err != nil {
		t.Fatal(err)
	}
	row := make([]any, 8)
	for i := 1; i <= n; i++ {
		row[0] = excelize.Cell{StyleID: date, Value: 45627}
		row[1] = "企业年金受托"
		row[2] = "P" + strconv.Itoa(i%5000)
		row[3] = "计划 " + strconv.Itoa(i)
		row[4] = float64(i)
		row[5] = nil
		if i%10 != 0 {
			row[5] = float64(i%1000) / 8
		}
		row[6] = 0.012345
		row[7] = excelize.Cell{StyleID: stamp, Value: 45627 + 9.5/24}
		if err := sw.SetRow("A"+strconv.Itoa(i+1), row); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}
