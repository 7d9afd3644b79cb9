package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
)

// ErrTokenRevoked is the cause of the context of a call whose bearer token
// was removed from the token file while the call ran.
var ErrTokenRevoked = errors.New("the bearer token of this call was removed from the token file")

// liveCalls tracks the running calls by the hash of the token that
// authenticated them, so that a reload can end the calls of tokens it
// removed. It is safe for concurrent use.
type liveCalls struct {
	mu    sync.Mutex
	calls map[[sha256.Size]byte]map[*liveCall]struct{}
}

// liveCall is one running call: cancel ends it.
type liveCall struct {
	cancel context.CancelCauseFunc
}

// add registers a call authenticated by the token whose hash is h and
// returns its context, which a revocation cancels with ErrTokenRevoked,
// and end, which cancels it and forgets the call. The call also leaves the
// registry by itself when ctx ends, as it does when the call ends.
func (l *liveCalls) add(ctx context.Context, h [sha256.Size]byte) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	c := &liveCall{cancel: cancel}
	l.mu.Lock()
	if l.calls == nil {
		l.calls = map[[sha256.Size]byte]map[*liveCall]struct{}{}
	}
	if l.calls[h] == nil {
		l.calls[h] = map[*liveCall]struct{}{}
	}
	l.calls[h][c] = struct{}{}
	l.mu.Unlock()
	context.AfterFunc(ctx, func() { l.remove(h, c) })
	return ctx, func() { cancel(ErrTokenRevoked) }
}

func (l *liveCalls) remove(h [sha256.Size]byte, c *liveCall) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.calls[h], c)
	if len(l.calls[h]) == 0 {
		delete(l.calls, h)
	}
}

// revoke ends, with ErrTokenRevoked, every call whose token keep refuses,
// and returns how many it ended.
func (l *liveCalls) revoke(keep func([sha256.Size]byte) bool) int {
	l.mu.Lock()
	var ended []*liveCall
	for h, calls := range l.calls {
		if keep(h) {
			continue
		}
		for c := range calls {
			ended = append(ended, c)
		}
	}
	l.mu.Unlock()
	for _, c := range ended {
		c.cancel(ErrTokenRevoked)
	}
	return len(ended)
}
