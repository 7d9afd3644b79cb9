package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// handleStream loads a client stream of row messages in one transaction. Rows
// go into the COPY as they arrive, so memory stays bounded by one message
// and one COPY buffer, however long the stream.
func (s *Server) handleStream(stream grpc.ServerStream) error {
	c := s.begin(stream.Context(), "LoadStream")
	src := &streamSource{s: s, stream: stream}
	defer src.close()
	first, err := src.first()
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
		resp, err = s.loadStream(stream.Context(), &cfg, wire, src)
	}
	if err == nil {
		err = stream.SendMsg(resp)
	}
	if err != nil {
		resp = nil
	}
	return c.end(wire, cfg, resp, int64(src.rows), err)
}

func (s *Server) loadStream(ctx context.Context, cfg *loader.Config, wire *loadsvcv1.LoadConfig, src *streamSource) (*loadsvcv1.LoadResponse, error) {
	if wire.GetPlanOnly() {
		return s.planStream(ctx, cfg, src)
	}
	res, err := s.exec.Run(ctx, *cfg, src)
	if err != nil {
		return nil, err
	}
	return resultResponse(cfg, res), nil
}

// planStream gathers a plan-only stream's rows, bounded by rows and bytes
// since they are held in memory, and plans them as one request; it never
// connects. Every message is held to the first one's columns, by name.
func (s *Server) planStream(ctx context.Context, cfg *loader.Config, src *streamSource) (*loadsvcv1.LoadResponse, error) {
	held := *cfg // a plan-only stream is held in memory: the Load limit
	held.MaxRows, held.MaxRowsHint = s.opt.MaxRows, "per plan-only stream, which is held in memory (LOADSVC_MAX_ROWS)"
	src.cfg = &held
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
			return nil, &loader.ValidationError{Field: "rows", Row: -1, Limit: true, Reason: fmt.Sprintf(
				"a plan-only stream is held in memory and may carry at most %d bytes; this one carries more", s.opt.MaxPlanBytes)}
		}
	}
	plan, err := loader.NewPlan(held, all)
	if err != nil {
		return nil, err
	}
	return planResponse(plan), nil
}

// streamSource turns the messages of a stream into batches, decoding each
// only when the load asks for it. The first message with rows fixes the
// load's columns; a later JSON row may leave a column out (NULL) but not
// add one.
type streamSource struct {
	s       *Server
	stream  grpc.ServerStream
	pending *parts         // the first message, already split
	pendSz  int            // its size
	cfg     *loader.Config // the admitted load's: row limit, key columns
	columns []string
	rows    int // rows decoded so far
	bytes   int // message bytes received so far
	msgs    int
	release func() // gives back the budget of the batch last handed out
	ch      chan received
	done    chan struct{}
	err     error // the error that ended the stream
}

// first receives and splits the stream's first message.
func (s *streamSource) first() (parts, error) {
	m, err := s.recv(s.stream.Context())
	if errors.Is(err, io.EOF) {
		err = &loader.ValidationError{Field: "config", Row: -1, Reason: "the stream ended before its first message, which must carry the config"}
	}
	if err != nil {
		return parts{}, err
	}
	s.bytes += len(m.buf)
	s.pendSz = len(m.buf)
	return m.split()
}

// Next returns the next batch with rows. A panic while decoding — on the
// COPY's goroutine, outside the handler's recovery — becomes an error.
func (s *streamSource) Next(ctx context.Context) (b *loader.Batch, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.s.opt.Logger.Error("panic decoding a stream message", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			b, err = nil, errors.New("internal error decoding a stream message; the service logged the details")
		}
	}()
	s.giveBack()
	for {
		p, size, err := s.next(ctx)
		if err != nil {
			return nil, err
		}
		if s.release, err = s.s.budget.acquire(ctx, size); err != nil {
			return nil, err
		}
		b, err := p.decodeRows(s.cfg, s.rows, s.columns)
		if err != nil || b.Len() > 0 {
			if b != nil && s.columns == nil {
				s.columns = b.Columns
			}
			s.rows += b.Len()
			return b, err
		}
		s.giveBack()
	}
}

func (s *streamSource) giveBack() {
	if s.release != nil {
		s.release()
		s.release = nil
	}
}

// next returns the next message split, and its size.
func (s *streamSource) next(ctx context.Context) (parts, int, error) {
	s.msgs++
	if p := s.pending; p != nil {
		s.pending = nil
		return *p, s.pendSz, nil
	}
	m, err := s.recv(ctx)
	if err != nil {
		return parts{}, 0, err
	}
	s.bytes += len(m.buf)
	p, err := m.split()
	if err == nil && len(p.config) > 0 {
		err = &loader.ValidationError{Field: "config", Row: s.rows, Reason: fmt.Sprintf("message %d of the stream carries a config; only the first may", s.msgs-1)}
	}
	return p, len(m.buf), err
}

// recv returns the next message, or ctx's error when ctx ends first, or an
// idleError when the client sends nothing for the idle timeout. One
// goroutine receives from the stream and hands messages over, so that a
// reader whose COPY failed can be stopped while the client is idle.
func (s *streamSource) recv(ctx context.Context) (*message, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.ch == nil {
		s.ch = make(chan received)
		s.done = make(chan struct{})
		go s.receive()
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
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-idle:
		s.err = idleError{s.s.opt.StreamIdleTimeout}
		return nil, s.err
	}
	if r.err != nil {
		s.err = r.err
		return nil, r.err
	}
	return r.msg, nil
}

// idleError ends a stream whose client sent nothing for the idle timeout.
type idleError struct{ d time.Duration }

func (e idleError) Error() string {
	return fmt.Sprintf("the stream sent no message for %s, the idle timeout (LOADSVC_STREAM_IDLE_TIMEOUT); its load was rolled back and nothing was written", e.d)
}

func (e idleError) GRPCStatus() *status.Status { return status.New(codes.DeadlineExceeded, e.Error()) }

// received is one RecvMsg's result.
type received struct {
	msg *message
	err error
}

func (s *streamSource) receiveRecovered() (m *message, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.s.opt.Logger.Error("panic receiving a stream message", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			m, err = nil, errors.New("internal error receiving a stream message; the service logged the details")
		}
	}()
	return s.receiveOne()
}

func (s *streamSource) receiveOne() (*message, error) {
	m := new(message)
	if err := s.stream.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// receive runs RecvMsg until it fails or the handler is done. A panic
// there, outside the handler's recovery, becomes the stream's error.
func (s *streamSource) receive() {
	for {
		m, err := s.receiveRecovered()
		select {
		case s.ch <- received{m, err}:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// close stops the receiving goroutine and gives back the budget; the
// handler calls it on its way out.
func (s *streamSource) close() {
	s.giveBack()
	if s.done != nil {
		close(s.done)
	}
}
