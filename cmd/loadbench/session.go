package main

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protowire"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// sessionWriters is how many writers append in parallel in (s).
const sessionWriters = 4

// sessionParallel is (s): sessionWriters writers append the data set's
// typed messages in parallel (message i goes to writer i mod
// sessionWriters) into one load session, which then commits as an append
// into the empty table; held against (c), one LoadStream of the same rows.
// The figure's time runs from BeginLoad to CommitLoad's answer; the note
// gives the commit's own.
func (b *bench) sessionParallel(ctx context.Context) (*figure, error) {
	f := &figure{key: "session_parallel", rows: b.data.rows, baseline: "stream_append",
		label: fmt.Sprintf("load session, %d writers appending typed messages of %d rows, then CommitLoad (append)", sessionWriters, b.opt.MsgRows)}
	bodies := make([][]byte, len(b.data.typed))
	for i, m := range b.data.typed { // a LoadStreamRequest is its typed_rows (3); AppendRowsRequest's is 5
		_, _, n := protowire.ConsumeTag(m)
		bodies[i] = protowire.AppendTag(nil, 5, protowire.BytesType)
		bodies[i] = append(bodies[i], m[n:]...)
	}
	var commit time.Duration
	err := b.measure(ctx, f, 0, b.fresh, true, func() error {
		s, err := b.srv.client.BeginLoad(ctx, &loadsvcv1.BeginLoadRequest{Config: b.navConfig(loadsvcv1.Mode_MODE_APPEND)})
		if err != nil {
			return fmt.Errorf("BeginLoad: %w", err)
		}
		g, gctx := errgroup.WithContext(ctx)
		for w := range sessionWriters {
			g.Go(func() error { return b.appendWriter(gctx, s.GetSessionId(), w, bodies) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		start := time.Now()
		resp, err := b.srv.client.CommitLoad(ctx, &loadsvcv1.CommitLoadRequest{SessionId: s.GetSessionId()})
		commit = time.Since(start)
		if err != nil {
			return fmt.Errorf("CommitLoad: %w", err)
		}
		return checkResponse(resp, b.data.rows, 0)
	})
	f.note = fmt.Sprintf("the commit took %.2f s of it", commit.Seconds())
	return f, err
}

// appendWriter is writer w of (s): it appends its share of the messages, in
// order, each at the offset of the rows it sent before.
func (b *bench) appendWriter(ctx context.Context, session string, w int, bodies [][]byte) error {
	writer := fmt.Sprintf("part-%d", w)
	offset := 0
	for i := w; i < len(bodies); i += sessionWriters {
		msg := protowire.AppendTag(nil, 1, protowire.BytesType)
		msg = protowire.AppendString(msg, session)
		msg = protowire.AppendTag(msg, 2, protowire.BytesType)
		msg = protowire.AppendString(msg, writer)
		msg = protowire.AppendTag(msg, 3, protowire.VarintType)
		msg = protowire.AppendVarint(msg, uint64(offset))
		msg = append(msg, bodies[i]...)
		resp := &loadsvcv1.AppendRowsResponse{}
		if err := b.srv.conn.Invoke(ctx, loadsvcv1.LoadService_AppendRows_FullMethodName, rawMessage(msg), resp); err != nil {
			return fmt.Errorf("AppendRows of %s at %d: %w", writer, offset, err)
		}
		offset += min(b.opt.MsgRows, b.data.rows-i*b.opt.MsgRows)
		if resp.GetNextOffset() != int64(offset) {
			return fmt.Errorf("AppendRows of %s: next offset %d, want %d", writer, resp.GetNextOffset(), offset)
		}
	}
	return nil
}
