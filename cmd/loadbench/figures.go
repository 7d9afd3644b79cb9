package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"google.golang.org/protobuf/proto"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// figure is one measured load.
type figure struct {
	key      string // its key in the JSON output
	label    string
	rows     int
	elapsed  time.Duration
	cpu      cpuTimes
	baseline string  // key of the figure it is compared with; "" for a baseline
	target   float64 // least ratio to the baseline; 0 for none
	note     string
	// tableRows is how many rows the table held before the load.
	tableRows int
}

func (f *figure) rate() float64 { return float64(f.rows) / f.elapsed.Seconds() }

// noisy reports that processes outside the benchmark took more than a fifth
// of the machine's CPU while the figure ran (and enough to tell from the
// 10 ms ticks CPU time is counted in).
func (f *figure) noisy() bool {
	other := f.cpu.other().Seconds()
	return other >= 0.25 && other > 0.2*f.elapsed.Seconds()*float64(runtime.NumCPU())
}

// bench holds what the figures share.
type bench struct {
	opt   *options
	db    *database
	srv   *server
	data  *dataset
	psql  *psql
	meter cpuMeter
	logf  func(format string, args ...any)
	pgLog *pgLog // nil unless --pg-durations

	fresh    *sums  // the sums of rows [0, rows)
	freshMix string // the row hash of rows [0, rows), from the baseline
	// refreshMix is the row hash of the refreshed refresh table, from the
	// first refresh figure.
	refreshMix string
}

// measure prepares the benchmark table outside the clock (stale rows
// [0, prefill)), times run, and checks that the table then holds what it
// should: want, and the row hash of the fresh rows when wantHash.
func (b *bench) measure(ctx context.Context, f *figure, prefill int, want *sums, wantHash bool, run func() error) error {
	f.tableRows = prefill
	if prefill > 0 {
		b.logf("%s: filling %s with %d rows", f.key, tableName, prefill)
	}
	return b.timed(ctx, f, func() error { return b.db.prepare(ctx, prefill) }, run, func() error {
		hash := ""
		if wantHash {
			hash = b.freshMix
		}
		got, err := b.db.check(ctx, want, hash)
		if err == nil && wantHash && b.freshMix == "" {
			b.freshMix = got.hash
		}
		return err
	})
}

// timed runs prepare, then run on the clock, then check, and logs the figure.
func (b *bench) timed(ctx context.Context, f *figure, prepare, run, check func() error) error {
	if err := prepare(); err != nil {
		return fmt.Errorf("%s: prepare: %w", f.key, err)
	}
	b.logf("%s: %s", f.key, f.label)
	if b.pgLog != nil {
		b.pgLog.mark()
	}
	cpu0 := b.meter.read()
	start := time.Now()
	err := run()
	f.elapsed = time.Since(start)
	f.cpu = b.meter.read().sub(cpu0)
	if err == nil {
		err = b.srv.alive()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.key, err)
	}
	if b.pgLog != nil {
		for _, st := range b.pgLog.durations() {
			b.logf("%s:   %9.0f ms  %s", f.key, st.ms, st.sql)
		}
	}
	if err := check(); err != nil {
		return fmt.Errorf("%s: %w", f.key, err)
	}
	b.logf("%s: %d rows in %s, %.0f rows/s (cpu s: server %.1f, postgres %.1f, client %.1f, other processes %.1f)", f.key, f.rows,
		f.elapsed.Round(time.Millisecond), f.rate(), f.cpu.server.Seconds(), f.cpu.postgres.Seconds(), f.cpu.client.Seconds(), f.cpu.other().Seconds())
	return nil
}

// (a) psql \copy of the CSV file into the empty table.
func (b *bench) copyBaseline(ctx context.Context) (*figure, error) {
	f := &figure{key: "copy", label: "psql \\copy, CSV", rows: b.data.rows}
	return f, b.psqlAppend(ctx, f, "copy", copyScript(b.data.csvPath))
}

// (b') psql \copy of the same rows in the same transactions as (b): what
// PostgreSQL itself costs for jsonBatch rows a transaction.
func (b *bench) batchedCopy(ctx context.Context) (*figure, error) {
	f := &figure{key: "batched_copy", label: fmt.Sprintf("psql \\copy, CSV, %d rows a transaction, as (b) sends them", b.opt.JSONBatch), rows: b.data.rows}
	return f, b.psqlAppend(ctx, f, "batched", batchedCopyScript(b.data.csvParts))
}

// psqlAppend measures f as psql running script, which copies the data
// set's rows into the empty table, and checks that its COPYs say so.
func (b *bench) psqlAppend(ctx context.Context, f *figure, name, script string) error {
	return b.measure(ctx, f, 0, b.fresh, true, func() error {
		out, err := b.psql.run(ctx, name, script)
		if err != nil {
			return err
		}
		if n := tagCounts(out)["COPY"]; n != int64(f.rows) {
			return fmt.Errorf("psql says COPY %d in all, want %d:\n%s", n, f.rows, out)
		}
		return nil
	})
}

// (b) Load with JSON rows, one request of jsonBatch rows after the other.
func (b *bench) loadJSON(ctx context.Context) (*figure, error) {
	f := &figure{key: "load_json", label: fmt.Sprintf("Load, JSON rows, %d a request", b.opt.JSONBatch), rows: b.data.rows, baseline: "batched_copy", target: 0.7}
	err := b.measure(ctx, f, 0, b.fresh, true, func() error {
		for i, req := range b.data.json {
			resp := &loadsvcv1.LoadResponse{}
			if err := b.srv.conn.Invoke(ctx, loadsvcv1.LoadService_Load_FullMethodName, rawMessage(req), resp); err != nil {
				return fmt.Errorf("request %d (Load): %w", i, err)
			}
			if resp.GetInserted() != int64(b.data.jsonRows[i]) {
				return fmt.Errorf("request %d (Load): inserted %d, want %d", i, resp.GetInserted(), b.data.jsonRows[i])
			}
		}
		return nil
	})
	return f, err
}

// (c) LoadStream append with typed rows into the empty table.
func (b *bench) streamAppend(ctx context.Context) (*figure, error) {
	f := &figure{key: "stream_append", label: b.streamLabel("append"), rows: b.data.rows, baseline: "pgx_copy", target: 0.9}
	err := b.measure(ctx, f, 0, b.fresh, true, func() error {
		return b.streamData(ctx, loadsvcv1.Mode_MODE_APPEND, 0)
	})
	return f, err
}

// (d) LoadStream delete_insert over a table holding the same keys.
func (b *bench) streamDeleteInsert(ctx context.Context) (*figure, error) {
	f := &figure{key: "stream_delete_insert", label: b.streamLabel("delete_insert") + ", keys present", rows: b.data.rows, baseline: "staged_delete_insert", target: 0.95}
	err := b.measure(ctx, f, b.data.rows, b.fresh, true, func() error {
		return b.streamData(ctx, loadsvcv1.Mode_MODE_DELETE_INSERT, b.data.rows)
	})
	return f, err
}

// (e) psql staged delete_insert over a table holding the same keys.
func (b *bench) stagedDeleteInsert(ctx context.Context) (*figure, error) {
	f := &figure{key: "staged_delete_insert", label: "psql: \\copy to TEMP, DELETE USING, INSERT", rows: b.data.rows}
	err := b.measure(ctx, f, b.data.rows, b.fresh, true, func() error {
		return b.stagedNav(ctx)
	})
	return f, err
}

// stagedNav runs the staged delete_insert script of the data set's rows
// into the benchmark table, which holds their keys.
func (b *bench) stagedNav(ctx context.Context) error {
	out, err := b.psql.run(ctx, "staged", stagedScript(tableName, columns, keyColumns, b.data.csvPath, false))
	if err != nil {
		return err
	}
	return checkStagedTags(out, b.data.rows)
}

// (f) delete_insert into a table of bigFactor × rows rows holding the keys,
// held against (f') psql's staged delete_insert into the same table; (f0)
// the same load into an empty table shows how the per-row cost grows with
// the table.
func (b *bench) bigDeleteInsert(ctx context.Context) ([]*figure, error) {
	empty := &figure{key: "empty_delete_insert", label: b.streamLabel("delete_insert") + ", empty table", rows: b.data.rows}
	err := b.measure(ctx, empty, 0, b.fresh, true, func() error {
		return b.streamData(ctx, loadsvcv1.Mode_MODE_DELETE_INSERT, 0)
	})
	if err != nil {
		return nil, err
	}
	total := b.opt.BigFactor * b.data.rows
	want := expectSums(b.data.rows, total)
	staged := &figure{key: "staged_big_delete_insert", label: fmt.Sprintf("psql: \\copy to TEMP, DELETE USING, INSERT; table of %d rows", total),
		rows: b.data.rows, baseline: "staged_delete_insert"}
	if err := b.measure(ctx, staged, total, want, false, func() error { return b.stagedNav(ctx) }); err != nil {
		return nil, err
	}
	big := &figure{key: "big_delete_insert", label: fmt.Sprintf("%s, table of %d rows", b.streamLabel("delete_insert"), total),
		rows: b.data.rows, baseline: "staged_big_delete_insert", target: 0.9}
	err = b.measure(ctx, big, total, want, false, func() error {
		return b.streamData(ctx, loadsvcv1.Mode_MODE_DELETE_INSERT, b.data.rows)
	})
	return []*figure{empty, staged, big}, err
}

func (b *bench) streamLabel(mode string) string {
	return fmt.Sprintf("LoadStream %s, typed, %d rows a message", mode, b.opt.MsgRows)
}

// streamData streams the data set's typed messages into the benchmark
// table; the load must delete wantDeleted rows and insert all of them.
func (b *bench) streamData(ctx context.Context, mode loadsvcv1.Mode, wantDeleted int) error {
	return b.streamMessages(ctx, b.navConfig(mode), b.data.typed, b.data.rows, wantDeleted)
}

// streamMessages streams msgs, LoadStreamRequests of rows rows in all, in
// one LoadStream configured by cfg; the load must delete wantDeleted rows
// and insert all of them.
func (b *bench) streamMessages(ctx context.Context, cfg *loadsvcv1.LoadConfig, msgs [][]byte, rows, wantDeleted int) error {
	resp, err := b.stream(ctx, cfg, func(send func(any) error) error {
		for _, m := range msgs {
			if err := send(rawMessage(m)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return checkResponse(resp, rows, wantDeleted)
}

// navConfig is the config of a stream into the benchmark table.
func (b *bench) navConfig(mode loadsvcv1.Mode) *loadsvcv1.LoadConfig {
	cfg := &loadsvcv1.LoadConfig{Table: tableName, Mode: mode, ChunkSize: int32(b.opt.ChunkSize)}
	if mode != loadsvcv1.Mode_MODE_APPEND {
		cfg.Pk = keyColumns
	}
	return cfg
}

func checkResponse(resp *loadsvcv1.LoadResponse, rows, deleted int) error {
	if resp.GetRows() != int64(rows) || resp.GetInserted() != int64(rows) || resp.GetDeleted() != int64(deleted) {
		return fmt.Errorf("LoadStream answered rows=%d inserted=%d deleted=%d, want rows=%d inserted=%d deleted=%d",
			resp.GetRows(), resp.GetInserted(), resp.GetDeleted(), rows, rows, deleted)
	}
	return nil
}

// stream runs one LoadStream: the config message, then whatever messages
// body sends.
func (b *bench) stream(ctx context.Context, cfg *loadsvcv1.LoadConfig, body func(send func(any) error) error) (*loadsvcv1.LoadResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := b.srv.client.LoadStream(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(&loadsvcv1.LoadStreamRequest{Config: cfg}); err == nil {
		err = body(st.SendMsg)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	// io.EOF from a send means the server ended the stream; its status
	// comes with CloseAndRecv.
	resp, err := st.CloseAndRecv()
	if err != nil {
		return nil, fmt.Errorf("LoadStream: %w", err)
	}
	return resp, nil
}

// rssStream streams rssRows typed rows generated on the fly (so that this
// process never holds them) as one append, and returns the server's peak
// RSS while it ran.
func (b *bench) rssStream(ctx context.Context) (*figure, int64, error) {
	n := b.opt.RSSRows
	f := &figure{key: "rss_stream", label: fmt.Sprintf("LoadStream append, %d typed rows made on the fly", n), rows: n,
		note: "rows/s includes making and encoding the rows in this process"}
	var peak int64
	sums := &sums{}
	sums.add(0, n, false)
	err := b.measure(ctx, f, 0, sums, false, func() error {
		if err := resetPeakRSS(b.srv.pid()); err != nil {
			return fmt.Errorf("reset the server's peak RSS: %w", err)
		}
		resp, err := b.stream(ctx, b.navConfig(loadsvcv1.Mode_MODE_APPEND), func(send func(any) error) error {
			for from := 0; from < n; from += b.opt.MsgRows {
				// gRPC may still be writing a message after SendMsg
				// returns: each gets a buffer of its own.
				m, err := proto.Marshal(typedMessage(from, min(from+b.opt.MsgRows, n), false))
				if err != nil {
					return err
				}
				if err := send(rawMessage(m)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := checkResponse(resp, n, 0); err != nil {
			return err
		}
		peak, err = peakRSS(b.srv.pid())
		return err
	})
	return f, peak, err
}
