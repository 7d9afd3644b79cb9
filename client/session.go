package client

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// SessionOption configures BeginLoad.
type SessionOption func(*loadsvcv1.BeginLoadRequest)

// WithTTL sets how long the session lives; without it the service's
// LOADSVC_SESSION_TTL (24h by default) applies.
func WithTTL(ttl time.Duration) SessionOption {
	return func(r *loadsvcv1.BeginLoadRequest) { r.Ttl = durationpb.New(ttl) }
}

// Session is a load session: any number of writers, in this process or
// others, append rows to it, and one Commit applies them all to the table
// in one transaction. Each writer (a name of the caller's choosing, such
// as "part-3") counts its own rows; Append sends each batch at the
// writer's offset (the rows it stored before), so the service stores every
// batch exactly once however often it is sent. The Session keeps each
// writer's next offset; Attach reads them back from the service, so a
// restarted worker resumes where its rows stopped.
//
// A Session is safe for concurrent use: writers append in parallel, and
// the Appends of one writer run one at a time. Sessions that are neither
// committed nor aborted expire after their ttl.
type Session struct {
	c         *Client
	id        string
	expiresAt time.Time

	mu      sync.Mutex
	writers map[string]*sessionWriter
}

// sessionWriter is one writer's place in the session.
type sessionWriter struct {
	mu   sync.Mutex   // held for the whole of an Append
	next atomic.Int64 // the offset of the writer's next batch
	// failed is the last Append's batch when it failed: the service may
	// or may not have stored it.
	failed *sentBatch
}

// sentBatch is a batch sent at an offset, by its content.
type sentBatch struct {
	offset, rows int64
	digest       [sha256.Size]byte
}

// BeginLoad opens a load session for cfg, which the service checks now as
// it checks a Load's: the table, the mode, the keys. plan_only and dry_run
// are refused (abort a session to write nothing). BeginLoad is retried on
// UNAVAILABLE and ABORTED; a retry after an answer lost on the way may
// leave an empty session behind, which expires with its ttl. Errors are
// *Error.
func (c *Client) BeginLoad(ctx context.Context, cfg *loadsvcv1.LoadConfig, opts ...SessionOption) (*Session, error) {
	req := &loadsvcv1.BeginLoadRequest{Config: cfg}
	for _, o := range opts {
		o(req)
	}
	ls, err := retried(ctx, c, c.svc.BeginLoad, req)
	if err != nil {
		return nil, err
	}
	return c.newSession(ls), nil
}

// Attach reaches the session id begun elsewhere (another process, or
// this one before a restart) and takes every writer's next offset from
// the service (GetLoadSession): NextOffset(writer) is then how many of the
// writer's rows are stored, and its next Append continues from there. Only
// the caller that began a session may attach to it; for others the service
// answers NOT_FOUND.
func (c *Client) Attach(ctx context.Context, id string) (*Session, error) {
	ls, err := c.getSession(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.newSession(ls), nil
}

func (c *Client) newSession(ls *loadsvcv1.LoadSession) *Session {
	s := &Session{c: c, id: ls.GetSessionId(), expiresAt: ls.GetExpiresAt().AsTime(), writers: map[string]*sessionWriter{}}
	for name, next := range ls.GetCommitted() {
		s.writer(name).next.Store(next)
	}
	return s
}

func (c *Client) getSession(ctx context.Context, id string) (*loadsvcv1.LoadSession, error) {
	return retried(ctx, c, c.svc.GetLoadSession, &loadsvcv1.GetLoadSessionRequest{SessionId: id})
}

// ID is the session's id: Attach reaches the session with it.
func (s *Session) ID() string { return s.id }

// ExpiresAt is when the session expires unless committed or aborted
// before.
func (s *Session) ExpiresAt() time.Time { return s.expiresAt }

// NextOffset is the offset of writer's next batch: the rows of writer the
// service has stored, as far as this Session knows (0 for a writer it has
// not seen).
func (s *Session) NextOffset(writer string) int64 { return s.writer(writer).next.Load() }

// Offsets is every writer's next offset, as NextOffset gives it.
func (s *Session) Offsets() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int64, len(s.writers))
	for name, w := range s.writers {
		m[name] = w.next.Load()
	}
	return m
}

func (s *Session) writer(name string) *sessionWriter {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.writers[name]
	if w == nil {
		w = &sessionWriter{}
		s.writers[name] = w
	}
	return w
}

// Append stores rows as writer's next batch, in one AppendRows call, in
// the typed form (see Row); the service stores the batch durably in a
// transaction of its own. Keep a batch to a few thousand rows: one batch
// is one message, bounded by the service's row and message limits.
//
// The batch goes at the writer's next offset, and a failure with
// UNAVAILABLE or ABORTED sends it again at the same offset (with the
// client's RetryPolicy): a batch the service stored already is
// acknowledged with Rows 0 and not stored twice. On success the writer's
// next offset moves past the batch. On failure it stays: Append the same
// rows again to retry them, exactly once. Append other rows instead and
// the Session first asks the service (GetLoadSession) where the writer
// is, so that the failed batch counts if the service stored it and new
// rows never overwrite or double it.
//
// A row the client cannot encode is refused before anything is sent, as
// an *Error whose Row is its index in rows. Errors are *Error: a gap in
// the offsets is OUT_OF_RANGE, a batch that straddles the stored offset
// FAILED_PRECONDITION, a session that is gone (aborted, expired, another
// caller's) NOT_FOUND.
func (s *Session) Append(ctx context.Context, writer string, rows []Row) (*loadsvcv1.AppendRowsResponse, error) {
	msg, err := typedRows(rows)
	if err != nil {
		return nil, err
	}
	w := s.writer(writer)
	w.mu.Lock()
	defer w.mu.Unlock()
	if msg == nil {
		return &loadsvcv1.AppendRowsResponse{Writer: writer, NextOffset: w.next.Load()}, nil
	}
	sent := &sentBatch{rows: int64(len(rows))}
	if w.failed != nil {
		sent.digest = digest(msg)
		if err := s.settle(ctx, writer, w, sent); err != nil {
			return nil, err
		}
	}
	sent.offset = w.next.Load()
	resp, err := retried(ctx, s.c, s.c.svc.AppendRows, &loadsvcv1.AppendRowsRequest{SessionId: s.id, Writer: writer, Offset: sent.offset, TypedRows: msg})
	if err != nil {
		if sent.digest == ([sha256.Size]byte{}) {
			sent.digest = digest(msg)
		}
		w.failed = sent
		return nil, err
	}
	w.failed = nil
	w.next.Store(sent.offset + sent.rows)
	return resp, nil
}

// typedRows encodes rows as one message, nil for none; a row's index in
// rows is its Row in an error.
func typedRows(rows []Row) (*loadsvcv1.TypedRows, error) {
	b := newBatch()
	for i, r := range rows {
		if err := b.add(r, int64(i)); err != nil {
			return nil, err
		}
	}
	return b.message(), nil
}

// settle decides where a batch goes after the writer's last Append
// failed: at the same offset when it is that batch again (a retry), else
// where the service says the writer is.
func (s *Session) settle(ctx context.Context, writer string, w *sessionWriter, sent *sentBatch) error {
	if f := w.failed; f.offset == w.next.Load() && f.rows == sent.rows && f.digest == sent.digest {
		return nil
	}
	ls, err := s.c.getSession(ctx, s.id)
	if err != nil {
		return err
	}
	w.next.Store(ls.GetCommitted()[writer])
	w.failed = nil
	return nil
}

// digest identifies a batch by its content (its wire form: TypedRows has
// no maps, so the encoding is deterministic).
func digest(msg *loadsvcv1.TypedRows) [sha256.Size]byte {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		// A message the client built itself always marshals; were one
		// not to, its batch would simply never count as a retry.
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(data)
}

// Commit applies every writer's rows to the table in one transaction, with
// the session's mode and keys, and returns what the load did. It is
// retried on UNAVAILABLE and ABORTED: a commit the service finished
// already answers with the same result, so the rows are applied once.
// Calling Commit again returns the same result too. Errors are *Error.
func (s *Session) Commit(ctx context.Context) (*loadsvcv1.LoadResponse, error) {
	return retried(ctx, s.c, s.c.svc.CommitLoad, &loadsvcv1.CommitLoadRequest{SessionId: s.id})
}

// Abort drops the session and every row appended to it: nothing of it is
// written. It is retried on UNAVAILABLE and ABORTED; a retry that finds
// the session gone (NOT_FOUND: an earlier attempt dropped it) succeeds.
// Aborting a committed session changes nothing in its table.
func (s *Session) Abort(ctx context.Context) error {
	tried := false
	return s.c.retry.do(ctx, func(ctx context.Context) error {
		_, err := s.c.svc.AbortLoad(ctx, &loadsvcv1.AbortLoadRequest{SessionId: s.id})
		if e, ok := AsError(err); ok && tried && e.Code == codes.NotFound {
			return nil
		}
		tried = err != nil
		return err
	})
}

// Get asks the service for the session as it is: its state, its rows,
// every writer's next offset, and once committed its result. It changes
// none of this Session's offsets (Attach does).
func (s *Session) Get(ctx context.Context) (*loadsvcv1.LoadSession, error) {
	return s.c.getSession(ctx, s.id)
}
