package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTimes is CPU time (user + system) spent so far by each party of a
// figure: the loadsvc server, PostgreSQL (postmaster, backends, background
// workers) and the client side (loadbench itself and the psql it runs).
// busy is the CPU time of the whole machine, and other what processes
// outside the benchmark took of it: noise, when a figure is taken.
type cpuTimes struct {
	server, postgres, client time.Duration
	busy                     time.Duration
}

func (a cpuTimes) sub(b cpuTimes) cpuTimes {
	return cpuTimes{server: a.server - b.server, postgres: a.postgres - b.postgres, client: a.client - b.client, busy: a.busy - b.busy}
}

func (a cpuTimes) other() time.Duration {
	return max(0, a.busy-a.server-a.postgres-a.client)
}

// cpuMeter reads cpuTimes from /proc and getrusage.
type cpuMeter struct {
	serverPID     int
	postmasterPID int
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux.
const clockTick = 10 * time.Millisecond

func (m cpuMeter) read() cpuTimes {
	var t cpuTimes
	if st, ok := readStat(m.serverPID); ok {
		t.server = st.self
	}
	// Exited backends (psql's) are in the postmaster's children times once
	// it has reaped them; live ones are read one by one.
	if st, ok := readStat(m.postmasterPID); ok {
		t.postgres = st.self + st.children
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == m.postmasterPID {
			continue
		}
		if st, ok := readStat(pid); ok && st.ppid == m.postmasterPID {
			t.postgres += st.self
		}
	}
	// The client: this process, and its waited-for children (psql; the
	// server and the postmaster are children too, but are not waited for
	// until the end).
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self) // fails only for a bad who or pointer
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	t.client = rusageTime(&self) + rusageTime(&children)
	t.busy = machineBusy()
	return t
}

// machineBusy is the non-idle CPU time of all CPUs from /proc/stat: user,
// nice, system, irq, softirq, steal.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, k := range []int{1, 2, 3, 6, 7, 8} {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * clockTick
}

func rusageTime(r *syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

type procStat struct {
	ppid           int
	self, children time.Duration
}

// readStat parses /proc/<pid>/stat (see proc(5)).
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, state
	if len(f) < 15 {
		return procStat{}, false
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
	return procStat{
		ppid:     int(n(4)),
		self:     time.Duration(n(14)+n(15)) * clockTick,
		children: time.Duration(n(16)+n(17)) * clockTick,
	}, true
}

// postmasterPID reads the first line of the cluster's postmaster.pid.
func postmasterPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// peakRSS is the server's VmHWM, its peak resident set size, in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, os.ErrNotExist
}

// resetPeakRSS sets VmHWM back to the current RSS (proc(5), clear_refs "5").
func resetPeakRSS(pid int) error {
	return os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "clear_refs"), []byte("5"), 0)
}
