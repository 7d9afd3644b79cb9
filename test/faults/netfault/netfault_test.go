package netfault_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/loadsvc/loadsvc/test/faults/netfault"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo serves line echo on a loopback port until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c) // ends with the connection, reset or closed by the test
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, msg string, timeout time.Duration) (string, error) {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	return line, err
}

func TestProxyFaults(t *testing.T) {
	p, err := netfault.Listen(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(c, r, "hello", 5*time.Second); err != nil || got != "hello\n" {
		t.Fatalf("plain: %q %v", got, err)
	}

	p.SetLatency(50 * time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(c, r, "slow", 5*time.Second); err != nil || got != "slow\n" {
		t.Fatalf("latency: %q %v", got, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("latency 50ms each way, round trip took %v", d)
	}
	p.Heal()

	p.Blackhole()
	if _, err := roundTrip(c, r, "lost?", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blackhole: %v, want a timeout", err)
	}
	p.Heal()
	// The held bytes arrive after the heal, in order.
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ReadString('\n'); err != nil || got != "lost?\n" {
		t.Fatalf("after heal: %q %v", got, err)
	}

	if n := p.Reset(); n != 1 {
		t.Errorf("Reset found %d connections, want 1", n)
	}
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('\n'); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after reset: %v, want ECONNRESET", err)
	}
	// New connections work after a reset.
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, err := roundTrip(c2, bufio.NewReader(c2), "again", 5*time.Second); err != nil || got != "again\n" {
		t.Fatalf("new connection: %q %v", got, err)
	}
	if p.Accepted() != 2 {
		t.Errorf("accepted %d", p.Accepted())
	}
}
