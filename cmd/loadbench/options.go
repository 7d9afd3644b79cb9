package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/loadsvc/loadsvc/internal/envvar"
)

// options are the benchmark's knobs: flags, the sizes defaulting to their
// BENCH_* environment variables.
type options struct {
	Rows       int             // BENCH_ROWS: rows of every figure
	Big        bool            // BENCH_BIG: also run (f0), (f') and (f)
	BigFactor  int             // the big table holds BigFactor × Rows rows
	JSONFile   string          // BENCH_JSON: write the figures there as one JSON object
	RSS        bool            // BENCH_RSS: stream RSSRows rows to check the server's peak RSS
	RSSRows    int             // BENCH_RSS_ROWS
	ServerBin  string          // a prebuilt loadsvc; empty builds ./cmd/loadsvc
	CPUProfile string          // CPU profile of this process (the client side)
	JSONBatch  int             // rows per Load request in (b)
	MsgRows    int             // rows per LoadStream message in (c), (d), (f)
	ChunkSize  int             // chunk_size (rows per COPY) of the streams
	PoolConns  int             // pool_max_conns of the server
	Repeat     int             // BENCH_REPEAT: runs of each figure; the fastest counts
	Figures    map[string]bool // which figures run; nil: all
	Quiet      bool            // no progress lines
	PGDurMS    int             // BENCH_PG_DURATIONS: log statements of this many ms or more; 0: off
	ServerEnv  []string        // KEY=VALUE pairs added to the server's environment
}

func parseOptions(args []string, getenv func(string) string) (*options, error) {
	env := envvar.Reader{Getenv: getenv}
	o := &options{}
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.IntVar(&o.Rows, "rows", env.Int("BENCH_ROWS", 1_000_000), "rows per figure (BENCH_ROWS)")
	fs.BoolVar(&o.Big, "big", env.Bool("BENCH_BIG", false), "also measure delete_insert into a table of --big-factor × rows (BENCH_BIG)")
	fs.IntVar(&o.BigFactor, "big-factor", 10, "size of the big table as a multiple of --rows")
	fs.StringVar(&o.JSONFile, "json", getenv("BENCH_JSON"), "write the figures as one JSON object to this file (BENCH_JSON)")
	rssRows := env.Int("BENCH_RSS_ROWS", 5_000_000)
	fs.IntVar(&o.RSSRows, "rss-rows", rssRows, "rows of the peak-RSS stream (BENCH_RSS_ROWS)")
	fs.BoolVar(&o.RSS, "rss", env.Bool("BENCH_RSS", false), "run the peak-RSS stream even when --rows < 1,000,000 (BENCH_RSS)")
	fs.StringVar(&o.ServerBin, "server-bin", "", "loadsvc binary to run; empty builds ./cmd/loadsvc")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of loadbench itself (the client) to this file")
	fs.IntVar(&o.JSONBatch, "json-batch", 10_000, "rows per Load request of the JSON figure")
	fs.IntVar(&o.MsgRows, "msg-rows", 5_000, "rows per LoadStream message")
	fs.IntVar(&o.ChunkSize, "chunk-size", 1_000_000, "chunk_size (rows per COPY) of the streams")
	fs.IntVar(&o.Repeat, "repeat", env.Int("BENCH_REPEAT", 1), "run each figure this many times and keep the fastest, against noise from other processes (BENCH_REPEAT)")
	fs.IntVar(&o.PoolConns, "pool-conns", 4, "pool_max_conns of the server's database URL")
	fs.Func("server-env", "`KEY=VALUE` for the server's environment, repeatable (the server has no pprof of its own; a build with one can be given its switch this way)", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("%q is not KEY=VALUE", v)
		}
		o.ServerEnv = append(o.ServerEnv, v)
		return nil
	})
	fs.IntVar(&o.PGDurMS, "pg-durations", env.Int("BENCH_PG_DURATIONS", 0), "show each figure's PostgreSQL statements that took at least this many ms, from the server log; 0: off (BENCH_PG_DURATIONS)")
	fs.BoolVar(&o.Quiet, "q", false, "print the results only, no progress lines")
	figures := fs.String("figures", "", "comma-separated figures to run (copy, pgx_copy, batched_copy, load_json, stream_append, bad_rows, session_parallel, staged_delete_insert, stream_delete_insert, staged_refresh_delete_insert, refresh_delete_insert, big_delete_insert (with empty_delete_insert and staged_big_delete_insert), rss_stream); empty: all that the settings ask for")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if env.Err != nil {
		return nil, env.Err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.Rows >= 1_000_000 && getenv("BENCH_RSS") == "" {
		o.RSS = true
	}
	if *figures != "" {
		o.Figures = map[string]bool{}
		for _, f := range strings.Split(*figures, ",") {
			f = strings.TrimSpace(f)
			if !figureKeys[f] {
				return nil, fmt.Errorf("--figures: no figure %q", f)
			}
			o.Figures[f] = true
		}
		o.Big = o.Figures["big_delete_insert"]
		o.RSS = o.Figures["rss_stream"]
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"rows", o.Rows}, {"big-factor", o.BigFactor}, {"json-batch", o.JSONBatch}, {"msg-rows", o.MsgRows}, {"chunk-size", o.ChunkSize}, {"pool-conns", o.PoolConns}, {"repeat", o.Repeat}, {"rss-rows", o.RSSRows}} {
		if c.v < 1 {
			return nil, fmt.Errorf("--%s must be at least 1, not %d", c.name, c.v)
		}
	}
	if o.BigFactor < 2 {
		return nil, fmt.Errorf("--big-factor must be at least 2, not %d", o.BigFactor)
	}
	return o, nil
}

var figureKeys = map[string]bool{"copy": true, "pgx_copy": true, "batched_copy": true, "load_json": true, "stream_append": true, "bad_rows": true, "staged_delete_insert": true,
	"stream_delete_insert": true, "session_parallel": true, "staged_refresh_delete_insert": true, "refresh_delete_insert": true, "big_delete_insert": true, "rss_stream": true}

// runs reports whether figure key is to run, as far as --figures says.
func (o *options) runs(key string) bool { return o.Figures == nil || o.Figures[key] }
