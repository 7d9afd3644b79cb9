package server

import (
	"context"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/semaphore"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// budget bounds the request bytes that the server holds at once,
// server-wide (LOADSVC_MAX_INFLIGHT_BYTES): each message's bytes, from
// before they are copied out of gRPC's buffers, and what they decode to.
// A request claims its share and holds it until it ends.
//
// A request never waits while it holds a share (claim.grow gives it back
// and waits for the whole), so that requests cannot wait for one another;
// and the bytes of the requests that wait are bounded by the budget again,
// beyond which a request is refused at once rather than pile up.
type budget struct {
	sem     *semaphore.Weighted
	total   int64
	waiting atomic.Int64
}

func newBudget(total int64) *budget {
	if total <= 0 {
		return nil
	}
	return &budget{sem: semaphore.NewWeighted(total), total: total}
}

// claim is one request's share of the budget. A unary request's grows
// with what it receives and decodes. An executing stream holds a fixed
// share from its first message to its end, taken before its connection
// like every other claim and never waited for again while it holds the
// connection; each of its messages must fit in it.
type claim struct {
	b     *budget // nil: no bound
	held  int64
	share int64 // a stream's fixed share; 0 for a claim that grows
	used  int64 // a stream's current message: bytes received and decoded
}

// newClaim is an empty claim on b; share is a stream's, 0 for a unary
// request.
func (b *budget) newClaim(share int64) *claim {
	if b != nil && share > b.total {
		share = b.total
	}
	return &claim{b: b, share: share}
}

// take claims n more bytes for the request's current message: a unary
// request waits for them while ctx lasts, a stream has them in its share
// or is refused.
func (c *claim) take(ctx context.Context, n int64) error {
	if c == nil {
		return nil
	}
	if c.share == 0 {
		return c.grow(ctx, n)
	}
	if c.held < c.share {
		if err := c.grow(ctx, c.share-c.held); err != nil {
			return err
		}
	}
	c.used += n
	if c.used > c.share {
		return limitError("a message of the stream needs %d bytes received and decoded, more than the %d bytes one stream may hold (LOADSVC_STREAM_SHARE_BYTES); send fewer rows a message", c.used, c.share)
	}
	return nil
}

// next starts a stream's next message: the one before is done with.
func (c *claim) next() {
	if c != nil {
		c.used = 0
	}
}

// growable turns a stream's claim into one that grows: a plan-only stream
// holds all its messages and no connection.
func (c *claim) growable() {
	if c != nil {
		c.share = 0
	}
}

// grow claims n more bytes: at once when they are free, else by giving back
// what the claim holds and waiting for the whole while ctx lasts.
func (c *claim) grow(ctx context.Context, n int64) error {
	b := c.b
	if b == nil || n <= 0 {
		return nil
	}
	want := c.held + n
	if want > b.total {
		return limitError("the request needs %d bytes received and decoded, more than the server's whole budget of %d bytes for requests being decoded (LOADSVC_MAX_INFLIGHT_BYTES); send smaller messages", want, b.total)
	}
	if b.sem.TryAcquire(n) {
		c.held = want
		return nil
	}
	if w := b.waiting.Add(want); w > b.total {
		b.waiting.Add(-want)
		return limitError("the server is busy: %d bytes of requests already wait for its budget of %d bytes (LOADSVC_MAX_INFLIGHT_BYTES); retry later", w-want, b.total)
	}
	defer b.waiting.Add(-want)
	c.release()
	if err := b.sem.Acquire(ctx, want); err != nil {
		return err
	}
	c.held = want
	return nil
}

// release gives back all the claim holds.
func (c *claim) release() {
	if c != nil && c.b != nil && c.held > 0 {
		c.b.sem.Release(c.held)
		c.held = 0
	}
}

func limitError(format string, args ...any) error {
	return &loader.ValidationError{Field: "request", Row: -1, Limit: true, Reason: fmt.Sprintf(format, args...)}
}
