package testenv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// FileOpens counts the reads of one file through inotify: how a test sees a
// poller (internal/filewatch) come back to a file, with no hook in the
// poller and no guess at how long its polls take on a busy machine.
type FileOpens struct {
	fd   int
	path string
	n    int
}

// WatchOpens counts, from now until t's cleanup, the reads of the file at
// path: each time it is opened without writing and closed again. It follows
// the file, not the name: reads of a file renamed over path later are not
// counted.
func WatchOpens(t testing.TB, path string) *FileOpens {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if _, err := syscall.InotifyAddWatch(fd, path, syscall.IN_CLOSE_NOWRITE); err != nil {
		t.Fatalf("inotify watch %s: %v", path, err)
	}
	return &FileOpens{fd: fd, path: path}
}

// Wait waits until the file was read n times since WatchOpens, and fails t
// when that takes more than 20 s.
func (o *FileOpens) Wait(t testing.TB, n int) {
	t.Helper()
	WaitUntil(t, 20*time.Second, fmt.Sprintf("%s read %d times", o.path, n), func() bool { return o.count(t) >= n })
}

// count reads the events queued so far and returns the reads seen.
func (o *FileOpens) count(t testing.TB) int {
	t.Helper()
	var buf [4096]byte
	for {
		k, err := syscall.Read(o.fd, buf[:])
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return o.n
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			t.Fatalf("inotify read: %v", err)
		}
		// struct inotify_event: wd, mask, cookie, len, then len bytes of name.
		for off := 0; off+syscall.SizeofInotifyEvent <= k; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			if mask&syscall.IN_CLOSE_NOWRITE != 0 {
				o.n++
			}
			off += syscall.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[off+12:]))
		}
	}
}
