package server

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A claim grows at once while the budget has room; otherwise it gives back
// what it holds and waits for the whole, so that two requests never wait
// for each other's shares; what waits is bounded by the budget again.
func TestBudgetClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBudget(100)
	a, c := b.newClaim(0), b.newClaim(0)
	if err := a.take(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if err := c.take(ctx, 60); err != nil {
		t.Fatal(err)
	}
	// a needs 30 more, 10 are free: it lets its 30 go and waits for 60.
	grown := make(chan error, 1)
	go func() { grown <- a.take(ctx, 30) }()
	waitFor(t, func() bool { return b.waiting.Load() == 60 })
	// More waiting than the budget again is refused at once.
	d := b.newClaim(0)
	if err := d.take(ctx, 50); err == nil || !strings.Contains(err.Error(), "the server is busy: 60 bytes of requests already wait") ||
		!strings.Contains(err.Error(), "LOADSVC_MAX_INFLIGHT_BYTES") {
		t.Errorf("a claim past the waiting bound: %v", err)
	}
	c.release()
	if err := <-grown; err != nil || a.held != 60 {
		t.Fatalf("a: %v, holding %d, want 60", err, a.held)
	}
	if err := a.take(ctx, 50); err == nil || !strings.Contains(err.Error(), "needs 110 bytes") {
		t.Errorf("a claim past the whole budget: %v", err)
	}
	a.release()
	if !b.sem.TryAcquire(100) {
		t.Error("the budget was not given back whole")
	}
}

// A stream's claim is its share, taken with its first message; every
// message must fit in it and none waits for more.
func TestStreamShare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBudget(100)
	s := b.newClaim(40)
	for range 3 { // three messages of 15 + 20 bytes
		s.next()
		if err := s.take(ctx, 15); err != nil {
			t.Fatal(err)
		}
		if err := s.take(ctx, 20); err != nil {
			t.Fatal(err)
		}
	}
	if s.held != 40 {
		t.Errorf("the stream holds %d, want its share of 40", s.held)
	}
	s.next()
	if err := s.take(ctx, 41); err == nil || !strings.Contains(err.Error(), "more than the 40 bytes one stream may hold (LOADSVC_STREAM_SHARE_BYTES)") {
		t.Errorf("a message past the share: %v", err)
	}
	if got := b.newClaim(500).share; got != 100 {
		t.Errorf("a share larger than the budget is %d, want the budget, 100", got)
	}
}

// waitFor polls cond until it holds, for at most 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
	}
}
