package main

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// runAll measures every figure in turn, --repeat rounds of them, keeping the
// fastest run of each: rounds rather than runs in a row, so that a noisy
// spell on the machine does not fall on one figure's every run.
func (b *bench) runAll(ctx context.Context) (*results, error) {
	res := &results{rows: b.opt.Rows, rounds: map[string][]float64{}}
	type run struct {
		key string
		run func(context.Context) ([]*figure, error)
	}
	var runs []run
	for _, r := range []run{
		{"copy", one(b.copyBaseline)},
		{"pgx_copy", one(b.pgxCopy)},
		{"batched_copy", one(b.batchedCopy)},
		{"load_json", one(b.loadJSON)},
		{"stream_append", one(b.streamAppend)},
		{"bad_rows", one(b.badRows)},
		{"session_parallel", one(b.sessionParallel)},
		{"staged_delete_insert", one(b.stagedDeleteInsert)},
		{"stream_delete_insert", one(b.streamDeleteInsert)},
		{"staged_refresh_delete_insert", one(b.stagedRefresh)},
		{"refresh_delete_insert", one(b.refreshDeleteInsert)},
		{"big_delete_insert", b.bigDeleteInsert},
	} {
		if b.opt.runs(r.key) && (r.key != "big_delete_insert" || b.opt.Big) {
			runs = append(runs, r)
		}
	}
	best := make([][]*figure, len(runs))
	for round := 1; round <= b.opt.Repeat; round++ {
		if b.opt.Repeat > 1 {
			b.logf("round %d of %d", round, b.opt.Repeat)
		}
		for i, r := range runs {
			fs, err := r.run(ctx)
			if err != nil {
				return nil, err
			}
			if best[i] == nil {
				best[i] = fs
			}
			for j, f := range fs {
				res.rounds[f.key] = append(res.rounds[f.key], f.rate())
				if f.elapsed < best[i][j].elapsed {
					best[i][j] = f
				}
			}
		}
	}
	for _, fs := range best {
		res.figures = append(res.figures, fs...)
	}
	peak, err := peakRSS(b.srv.pid())
	if err != nil {
		return nil, fmt.Errorf("the server's peak RSS: %w", err)
	}
	res.peakRSS = peak
	if b.opt.RSS {
		f, streamPeak, err := b.rssStream(ctx)
		if err != nil {
			return nil, err
		}
		res.figures = append(res.figures, f)
		res.streamRSS, res.rssRows = streamPeak, f.rows
		res.peakRSS = max(res.peakRSS, streamPeak)
	}
	return res, nil
}

func one(run func(context.Context) (*figure, error)) func(context.Context) ([]*figure, error) {
	return func(ctx context.Context) ([]*figure, error) {
		f, err := run(ctx)
		return []*figure{f}, err
	}
}

// warmUp runs one small load through the server, so that the first figure
// does not pay for the pool's first connection.
func (b *bench) warmUp(ctx context.Context) error {
	if err := b.db.prepare(ctx, 0); err != nil {
		return err
	}
	n := min(100, b.opt.Rows)
	req, err := proto.Marshal(jsonRequest(0, n))
	if err != nil {
		return err
	}
	resp := &loadsvcv1.LoadResponse{}
	if err := b.srv.conn.Invoke(ctx, loadsvcv1.LoadService_Load_FullMethodName, rawMessage(req), resp); err != nil {
		return fmt.Errorf("warm-up Load: %w", err)
	}
	if resp.GetInserted() != int64(n) {
		return fmt.Errorf("warm-up Load: inserted %d, want %d", resp.GetInserted(), n)
	}
	_, err = b.db.check(ctx, expectSums(n, n), "")
	return err
}
