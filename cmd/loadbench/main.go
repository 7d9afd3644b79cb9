// Command loadbench measures how fast loadsvc loads rows into PostgreSQL,
// next to psql doing the same work by hand. `make bench` runs it.
//
// It starts its own throwaway PostgreSQL (internal/pgcluster), builds and starts
// the real loadsvc binary on a loopback port, generates BENCH_ROWS rows
// (default 1,000,000) once, and times, each over the same rows:
//
//	(a)  copy                          psql \copy of the rows as CSV — the baseline
//	(h)  pgx_copy                      pgx CopyFrom (binary) of the rows as Go values, no
//	                                   service in between — the baseline of (c)
//	(b') batched_copy                  psql \copy of the same rows in the same transactions as (b),
//	                                   10,000 rows each: what PostgreSQL itself costs (b)
//	(b)  load_json                     Load with JSON (Struct) rows, 10,000 a request, one after the other;
//	                                   its baseline is (b'), as (c)'s is (h)
//	(c)  stream_append                 LoadStream append with typed rows
//	(bad) bad_rows                     (c)'s rows with 100 bad values spread through them (a date that
//	                                   does not exist, a nav that is no number): the load fails, names
//	                                   all 100 and writes nothing, in at most 3× the time of (c)
//	(d)  stream_delete_insert          LoadStream delete_insert over a table holding the keys
//	(e)  staged_delete_insert          psql: \copy into a TEMP table, DELETE USING, INSERT SELECT — the baseline of (d)
//	(g') staged_refresh_delete_insert  psql: the same over a refresh key — DELETE USING the stage's
//	                                   distinct key tuples — into a table shaped like the
//	                                   pipeline's that holds the load's 8 key tuples (and
//	                                   another month it must keep) — the baseline of (g)
//	(g)  refresh_delete_insert         LoadStream delete_insert of the same, duplicates unspecified
//	(f0) empty_delete_insert           LoadStream delete_insert into an empty table       } BENCH_BIG=1
//	(f') staged_big_delete_insert      (e) into a table of 10× the rows holding the keys  } (not in CI)
//	(f)  big_delete_insert             (d) into that table; its baseline is (f')          }
//
// and prints rows/s, the ratio to the baseline, the target, the CPU seconds
// the server, PostgreSQL, the client and other processes used meanwhile, and
// the server's peak RSS (VmHWM): over the run, and — from BENCH_ROWS=1000000
// on, or with BENCH_RSS=1 — while it streams BENCH_RSS_ROWS (5,000,000) rows
// made on the fly. BENCH_JSON=FILE writes the figures as one JSON object.
//
// Every figure starts from a fresh table (filled, indexed, vacuumed and
// checkpointed outside the clock) and is checked afterwards: the table must
// hold exactly the rows it should (count, sums of the numerics, a hash of the
// text columns, no stale row left), and loadsvc's answer must count them.
// loadbench exits non-zero only when something fails; a missed target is
// reported, not fatal.
//
// Choices: the loadsvc requests are encoded before the clock starts and sent
// as they are (rawCodec), as psql's CSV file is written before its clock
// starts. Streams send 5,000 typed rows a message with chunk_size 1,000,000,
// so that a load of up to 1M rows is one COPY: message sizes of 1,000 to
// 20,000 rows measured alike, and fewer, larger COPYs were faster.
//
// Noise: on a shared machine other processes' CPU use shows in the "other"
// column and marks a result "(noisy)"; BENCH_REPEAT=3 runs three rounds of
// the figures and keeps each one's fastest. BENCH_PG_DURATIONS=100 prints
// every PostgreSQL statement of 100 ms or more per figure, from the server
// log. The server has no pprof of its own; --server-bin and --server-env run
// a build that has. `go run ./cmd/loadbench -h` lists every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/loadsvc/loadsvc/internal/pgcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	o, err := parseOptions(os.Args[1:], os.Getenv)
	if err != nil {
		return err
	}
	if o.Rows > maxRows/o.BigFactor || o.RSSRows > maxRows {
		return fmt.Errorf("at most %d rows (the key space)", maxRows/o.BigFactor)
	}
	if o.CPUProfile != "" {
		stop, err := startCPUProfile(o.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	logf := progress(time.Now(), o.Quiet)
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bin := o.ServerBin
	if bin == "" {
		logf("building ./cmd/loadsvc")
		if bin, err = buildServer(ctx, dir); err != nil {
			return err
		}
	}
	logf("starting PostgreSQL")
	cluster, err := pgcluster.Start()
	if err != nil {
		return err
	}
	defer cluster.Close()
	db, err := openDatabase(ctx, cluster)
	if err != nil {
		return err
	}
	defer db.close()
	var version string
	if err := db.conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return err
	}

	logf("starting %s", bin)
	srv, err := startServer(ctx, bin, dir, fmt.Sprintf("%s&pool_max_conns=%d", db.url, o.PoolConns), max(o.JSONBatch, 100_000), o.ServerEnv)
	if err != nil {
		return err
	}
	defer srv.stop()

	logf("generating %d rows", o.Rows)
	data, err := buildDataset(dir, o)
	if err != nil {
		return err
	}
	b := &bench{
		opt: o, db: db, srv: srv, data: data, logf: logf,
		psql:  &psql{bin: filepath.Join(cluster.BinDir(), "psql"), url: db.url, dir: dir},
		meter: cpuMeter{serverPID: srv.pid(), postmasterPID: postmasterPID(cluster.DataDir())},
		fresh: expectSums(o.Rows, o.Rows),
	}
	logf("data: CSV %s, typed messages %s (%d), JSON requests %s (%d); PostgreSQL %s, %d CPUs",
		mib(data.csvBytes), mib(data.typedBytes), len(data.typed), mib(data.jsonBytes), len(data.json), version, runtime.NumCPU())
	if o.PGDurMS > 0 {
		if err := db.logDurations(ctx, o.PGDurMS); err != nil {
			return err
		}
		b.pgLog = &pgLog{path: cluster.LogFile()}
	}
	if err := b.warmUp(ctx); err != nil {
		return err
	}

	res, err := b.runAll(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("\nloadbench: %s rows; stream messages of %d typed rows, chunk_size %d; JSON requests of %d rows; pool_max_conns=%d; PostgreSQL %s; %d CPUs\n\n",
		thousands(int64(o.Rows)), o.MsgRows, o.ChunkSize, o.JSONBatch, o.PoolConns, version, runtime.NumCPU())
	res.print(os.Stdout)
	if o.JSONFile != "" {
		if err := res.writeJSON(o.JSONFile); err != nil {
			return err
		}
		logf("wrote %s", o.JSONFile)
	}
	return nil
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
