package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/metrics"
	"github.com/loadsvc/loadsvc/internal/testenv"
)

// Issue 23: the metrics listener's error reaches the log. A scrape that
// outlasts the shutdown (its request announces a body it never sends) is
// cut metrics.ShutdownTimeout into the shutdown, and the log says so
// before realMain returns. Before, realMain dropped the error, and did not
// wait for the listener to end.
func TestMetricsListenerErrorLogged(t *testing.T) {
	t.Parallel()
	addr := testenv.FreeAddr(t)
	p := start(t, nil, "--metrics-listen", addr)
	scrape, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer scrape.Close()
	if _, err := io.WriteString(scrape, "GET /metrics HTTP/1.1\r\nHost: loadsvc\r\nContent-Length: 10\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The listener accepts in order: once a second scrape is answered, the
	// first is the server's, and the shutdown must wait for it or cut it.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a second scrape: %s, %v", resp.Status, err)
	}
	resp.Body.Close()
	p.stop()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Errorf("realMain: %v", err)
		}
	case <-time.After(metrics.ShutdownTimeout + 20*time.Second):
		t.Fatal("realMain did not return")
	}
	if out := p.out.String(); !strings.Contains(out, "metrics listener failed") || !strings.Contains(out, "scrape still running") {
		t.Errorf("the log does not report the cut scrape:\n%s", out)
	}
	if err := scrape.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(scrape); err != nil {
		t.Errorf("the cut scrape's connection: %v, want it closed", err)
	}
}
