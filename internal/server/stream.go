package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// handleStream loads a client stream of row messages in one transaction. Rows
// go into the COPY as they arrive, so memory stays bounded by one message
// and one COPY buffer, however long the stream. The stream's share of the
// budget is taken with its first message, before its connection.
func (s *Server) handleStream(stream grpc.ServerStream) error {
	ctx := stream.Context()
	c := s.begin(ctx, "LoadStream")
	if d := s.opt.StreamMaxDuration; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, tooLongError{d})
		defer cancel()
		c.ctx = ctx
	}
	src := &streamSource{s: s, stream: stream, claim: s.newClaim(true)}
	defer src.close()
	first, err := src.next(ctx)
	if errors.Is(err, io.EOF) {
		err = &loader.ValidationError{Field: "config", Row: -1, Reason: "the stream ended before its first message, which must carry the config"}
	}
	var wire *loadsvcv1.LoadConfig
	if err == nil {
		wire, err = first.decodeConfig()
	}
	if err == nil && wire == nil {
		err = &loader.ValidationError{Field: "config", Row: -1, Reason: "the first message of a stream must carry the config"}
	}
	cfg := s.config(wire)
	cfg.MaxRows, cfg.MaxRowsHint = s.opt.MaxStreamRows, "per stream (LOADSVC_MAX_STREAM_ROWS)"
	var resp *loadsvcv1.LoadResponse
	if err == nil {
		err = c.admit(&cfg, wire.GetPlanOnly())
	}
	if err == nil {
		src.pending, src.cfg = &first, &cfg
		resp, err = c.loadStream(&cfg, wire, src)
	}
	if err == nil {
		err = stream.SendMsg(resp)
	}
	if err != nil {
		resp = nil
		if cause := context.Cause(ctx); errors.As(cause, new(tooLongError)) && stream.Context().Err() == nil {
			err = cause // what ended it, rather than how the load noticed
		}
	}
	return c.end(wire, cfg, resp, int64(src.rows), err)
}

func (c *call) loadStream(cfg *loader.Config, wire *loadsvcv1.LoadConfig, src *streamSource) (*loadsvcv1.LoadResponse, error) {
	if wire.GetPlanOnly() {
		return c.s.planStream(c.ctx, cfg, src)
	}
	return c.run(cfg, src)
}

// planStream gathers a plan-only stream's rows, bounded by rows and bytes
// since they are held in memory (the claim grows with every message: the
// stream holds no connection), and plans them as one request; it never
// connects. Every message is held to the first one's columns, by name.
func (s *Server) planStream(ctx context.Context, cfg *loader.Config, src *streamSource) (*loadsvcv1.LoadResponse, error) {
	held := *cfg // a plan-only stream is held in memory: the Load limit
	held.MaxRows, held.MaxRowsHint = s.opt.MaxRows, "per plan-only stream, which is held in memory (LOADSVC_MAX_ROWS)"
	src.cfg = &held
	src.claim.growable()
	all := &loader.Batch{}
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if all.Columns == nil {
			all.Columns = b.Columns
		} else if err := loader.SameColumns(all.Columns, b); err != nil {
			return nil, err
		}
		all.Values = append(all.Values, b.Values...)
		if src.bytes > s.opt.MaxPlanBytes {
			return nil, limitError("a plan-only stream is held in memory and may carry at most %d bytes (LOADSVC_MAX_PLAN_BYTES); this one carries more", s.opt.MaxPlanBytes)
		}
	}
	return s.plan(ctx, held, all, src.claim)
}

// streamSource turns the messages of a stream into batches, decoding each
// only when the load asks for it. The first message with rows fixes the
// load's columns; a later JSON row may leave a column out (NULL) but not
// add one.
type streamSource struct {
	s       *Server
	stream  grpc.ServerStream
	claim   *claim
	pending *parts         // the first message, already split
	cfg     *loader.Config // the admitted load's: row limit
	columns []string
	rows    int // rows decoded so far
	bytes   int // message bytes received so far
	msgs    int
	ch      chan received // the receive under way, nil for none
	err     error         // the error that ended the stream
}

// Next returns the next batch with rows.
func (s *streamSource) Next(ctx context.Context) (*loader.Batch, error) {
	for {
		p, err := s.next(ctx)
		if err != nil {
			return nil, err
		}
		if s.msgs > 1 && p.config != nil {
			return nil, &loader.ValidationError{Field: "config", Row: s.rows, Reason: fmt.Sprintf("message %d of the stream carries a config; only the first may", s.msgs-1)}
		}
		b, err := p.decodeRows(ctx, s.cfg, s.claim, s.rows, s.columns)
		if err != nil {
			return nil, err
		}
		if b.Len() > 0 {
			if s.columns == nil {
				s.columns = b.Columns
			}
			s.rows += b.Len()
			return b, nil
		}
	}
}

// next returns the next message, admitted and split; the one before is
// done with.
func (s *streamSource) next(ctx context.Context) (parts, error) {
	if p := s.pending; p != nil {
		s.pending = nil
		return *p, nil
	}
	s.claim.next()
	s.msgs++
	m, err := s.recv(ctx)
	if err != nil {
		return parts{}, err
	}
	s.bytes += m.data.Len()
	if err := m.admit(ctx, s.claim); err != nil {
		return parts{}, err
	}
	return m.split()
}

// recv returns the next message, or ctx's error when ctx ends first, or an
// idleError when the client sends nothing for the idle timeout. RecvMsg
// runs on a goroutine of its own, one message at a time, so that a reader
// whose COPY failed can be stopped while the client is idle. A panic there
// is raised again here, where the load recovers it.
func (s *streamSource) recv(ctx context.Context) (*message, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.ch == nil {
		s.ch = make(chan received, 1) // the receiver never waits for the handler
		go s.receive(s.ch)
	}
	var idle <-chan time.Time
	if d := s.s.opt.StreamIdleTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		idle = t.C
	}
	var r received
	select {
	case r = <-s.ch:
		s.ch = nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-idle:
		s.err = idleError{s.s.opt.StreamIdleTimeout}
		return nil, s.err
	}
	if r.panic != nil {
		panic(r.panic)
	}
	if r.err != nil {
		s.err = r.err
		return nil, r.err
	}
	return r.msg, nil
}

// receive receives one message into ch.
func (s *streamSource) receive(ch chan<- received) {
	var r received
	defer func() {
		if p := recover(); p != nil {
			r = received{panic: fmt.Sprintf("%v\n%s", p, debug.Stack())}
		}
		ch <- r
	}()
	m := new(message)
	if err := s.stream.RecvMsg(m); err != nil {
		r.err = err
		return
	}
	r.msg = m
}

// close gives back the stream's share of the budget; the handler calls it
// on its way out.
func (s *streamSource) close() { s.claim.release() }

// idleError ends a stream whose client sent nothing for the idle timeout.
type idleError struct{ d time.Duration }

func (e idleError) Error() string {
	return fmt.Sprintf("the stream sent no message for %s, the idle timeout (LOADSVC_STREAM_IDLE_TIMEOUT); its load was rolled back and nothing was written", e.d)
}

func (e idleError) GRPCStatus() *status.Status { return status.New(codes.DeadlineExceeded, e.Error()) }

// tooLongError ends a stream that ran past LOADSVC_STREAM_MAX_DURATION.
type tooLongError struct{ d time.Duration }

func (e tooLongError) Error() string {
	return fmt.Sprintf("the stream ran for %s, the longest a stream may hold a connection (LOADSVC_STREAM_MAX_DURATION); its load was rolled back and nothing was written; send it as several loads", e.d)
}

func (e tooLongError) GRPCStatus() *status.Status {
	return status.New(codes.DeadlineExceeded, e.Error())
}

// received is one RecvMsg's result, or the panic it raised, with its stack.
type received struct {
	msg   *message
	err   error
	panic any
}
