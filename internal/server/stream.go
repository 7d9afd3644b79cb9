package server

import (
	"context"
	"errors"
	"io"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// LoadStream loads a client stream of row messages in one transaction. Rows
// go into the COPY as they arrive, so memory stays bounded by one message
// and one COPY buffer, however long the stream.
func (s *Server) LoadStream(stream loadsvcv1.LoadService_LoadStreamServer) error {
	c := s.begin(stream.Context(), "LoadStream")
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		err = &loader.ValidationError{Field: "config", Row: -1, Reason: "the stream ended before its first message, which must carry the config"}
	}
	if err != nil {
		return c.end(nil, loader.Config{}, nil, err)
	}
	cfg := s.config(first.GetConfig())
	cfg.MaxRows, cfg.MaxRowsHint = s.opt.MaxStreamRows, "per stream (LOADSVC_MAX_STREAM_ROWS)"
	resp, src, err := s.loadStream(stream, &cfg, first)
	defer src.close()
	if err == nil {
		err = stream.SendAndClose(resp)
	}
	if err != nil {
		resp = nil
	}
	return c.end(first.GetConfig(), cfg, resp, err)
}

func (s *Server) loadStream(stream loadsvcv1.LoadService_LoadStreamServer, cfg *loader.Config, first *loadsvcv1.LoadStreamRequest) (*loadsvcv1.LoadResponse, *streamSource, error) {
	src := &streamSource{stream: stream, pending: first}
	if first.GetConfig() == nil {
		return nil, src, &loader.ValidationError{Field: "config", Row: -1, Reason: "the first message of a stream must carry the config"}
	}
	if err := s.admit(stream.Context(), cfg, first.GetConfig().GetPlanOnly()); err != nil {
		return nil, src, err
	}
	if first.GetConfig().GetPlanOnly() {
		resp, err := s.planStream(stream.Context(), cfg, src)
		return resp, src, err
	}
	res, err := s.exec.Run(stream.Context(), *cfg, src)
	if err != nil {
		return nil, src, err
	}
	return resultResponse(cfg, res), src, nil
}

// planStream gathers a plan-only stream's rows (bounded by MaxRows) and
// plans them as one request; it never connects.
func (s *Server) planStream(ctx context.Context, cfg *loader.Config, src *streamSource) (*loadsvcv1.LoadResponse, error) {
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
		}
		all.Values = append(all.Values, b.Values...)
		if s.opt.MaxRows > 0 && all.Len() > s.opt.MaxRows {
			return nil, &loader.ValidationError{Field: "rows", Row: -1, Limit: true, Reason: "a plan-only stream is held in memory and may carry at most " + itoa(s.opt.MaxRows) + " rows (LOADSVC_MAX_ROWS)"}
		}
	}
	plan, err := loader.NewPlan(*cfg, all)
	if err != nil {
		return nil, err
	}
	return planResponse(plan), nil
}

// streamSource turns the messages of a stream into batches. The first
// message with rows fixes the load's columns; a later JSON row may leave a
// column out (NULL) but not add one.
type streamSource struct {
	stream  loadsvcv1.LoadService_LoadStreamServer
	pending *loadsvcv1.LoadStreamRequest
	columns []string
	rows    int
	msgs    int
	ch      chan received
	done    chan struct{}
	err     error // the error that ended the stream
}

func (s *streamSource) Next(ctx context.Context) (*loader.Batch, error) {
	for {
		msg, err := s.recv(ctx)
		if err != nil {
			return nil, err
		}
		b, err := s.batch(msg)
		if err != nil || b.Len() > 0 {
			return b, err
		}
	}
}

// recv returns the next message, or ctx's error when ctx ends first. One
// goroutine receives from the stream and hands messages over, so that a
// reader whose COPY failed can be stopped while the client is idle.
func (s *streamSource) recv(ctx context.Context) (*loadsvcv1.LoadStreamRequest, error) {
	if m := s.pending; m != nil {
		s.pending = nil
		s.msgs++
		return m, nil
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.ch == nil {
		s.ch = make(chan received)
		s.done = make(chan struct{})
		go s.receive()
	}
	var r received
	select {
	case r = <-s.ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		s.err = r.err
		return nil, r.err
	}
	m := r.msg
	s.msgs++
	if m.GetConfig() != nil {
		return nil, &loader.ValidationError{Field: "config", Row: s.rows, Reason: "message " + itoa(s.msgs-1) + " of the stream carries a config; only the first may"}
	}
	return m, nil
}

// received is one Recv's result.
type received struct {
	msg *loadsvcv1.LoadStreamRequest
	err error
}

// receive runs stream.Recv until it fails or the handler is done.
func (s *streamSource) receive() {
	for {
		m, err := s.stream.Recv()
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

// close stops the receiving goroutine; the handler calls it on its way out.
func (s *streamSource) close() {
	if s.done != nil {
		close(s.done)
	}
}

func (s *streamSource) batch(m *loadsvcv1.LoadStreamRequest) (*loader.Batch, error) {
	var b *loader.Batch
	var err error
	switch {
	case len(m.GetRows()) > 0 && s.columns != nil && len(m.GetTypedRows().GetColumns()) == 0:
		b, err = loader.FromStructs(s.columns, m.GetRows(), s.rows)
	default:
		b, err = requestBatch(m.GetRows(), m.GetTypedRows(), s.rows)
	}
	if err != nil {
		return nil, err
	}
	if b.Len() > 0 && s.columns == nil {
		s.columns = b.Columns
	}
	s.rows += b.Len()
	return b, nil
}
