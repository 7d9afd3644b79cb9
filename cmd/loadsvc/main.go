// Command loadsvc serves loadsvc.v1.LoadService: it loads rows into
// PostgreSQL, one pooled session and one transaction per load.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/loadsvc/loadsvc/internal/auth"
	"github.com/loadsvc/loadsvc/internal/dsn"
	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/metrics"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadsvc:", err)
		os.Exit(1)
	}
}

// realMain runs the service with these arguments and environment, logging
// to logw, until ctx ends.
func realMain(ctx context.Context, args []string, getenv func(string) string, logw io.Writer) error {
	cfg, err := loadConfig(args, getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, logw)
	if err != nil {
		return err
	}
	defer log.Sync() // nothing to do about a failed flush (stderr, a pipe or a terminal, cannot be synced)

	log.Info("starting", zap.String("version", version()))
	if err := checkExposure(ctx, cfg, log); err != nil {
		return err
	}
	grpcTrace, queryTracer, stopTracing, err := tracing.Setup(ctx, "loadsvc")
	if err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(c); err != nil {
			log.Warn("tracing: the last spans may not have been exported", zap.Error(err))
		}
	}()
	pool, redact, err := openPool(cfg, getenv, log, queryTracer)
	if err != nil {
		return err
	}
	if pool != nil {
		defer pool.Close()
	}
	sec, err := newSecurity(ctx, cfg, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, pool)
	ledger := loader.Ledger{Schema: cfg.LedgerSchema, Table: cfg.LedgerTable}
	exec := &pgexec.Executor{Pool: pool, AcquireTimeout: cfg.AcquireTimeout, StatementTimeout: cfg.StatementTimeout, LockTimeout: cfg.LockTimeout,
		IdleInTransactionTimeout: backstop(cfg.StreamIdle), Ledger: ledger,
		Status: func(err error) (string, string) { return server.ErrorStatus(err, redact) }}
	if err := migrate(ctx, exec, log, redact); err != nil {
		return err
	}
	store := &pgexec.SessionStore{Exec: exec, StageSchema: cfg.SessionStageSchema, MaxPerPrincipal: cfg.MaxSessions, MaxRows: cfg.MaxSessionRows}
	defer sweepSessions(ctx, store, cfg.SessionSweep, log, redact)()
	srv := server.New(exec, server.Options{Logger: log, Ledger: ledger, MaxRows: cfg.MaxRows, MaxStreamRows: cfg.MaxStreamRows, Redact: redact, Allow: sec.policy.Allow, Observer: m,
		MaxInflightBytes: cfg.MaxInflightBytes, StreamShareBytes: cfg.StreamShareBytes, MaxPlanBytes: cfg.MaxPlanBytes,
		StreamIdleTimeout: cfg.StreamIdle, StreamMaxDuration: cfg.StreamMax, Principal: auth.PrincipalName, MaxRowErrors: cfg.MaxRowErrors,
		Sessions: store, SessionTTL: cfg.SessionTTL, SessionMaxTTL: cfg.SessionMaxTTL, History: exec})
	stopPruner := startPruner(exec, time.Duration(cfg.HistoryRetention), log, redact)
	defer stopPruner() // after the loads drained
	// Metrics first, so they count what a recovered panic became; then
	// recovery, so it also covers authentication.
	opts := append(m.ServerOptions(), server.ServerOptions(log)...)
	opts = append(opts, sec.opts...)
	opts = append(opts, grpcTrace, grpc.MaxRecvMsgSize(cfg.MaxRecvBytes))
	opts = append(opts, cfg.transport.serverOptions()...)
	stopMetrics, err := serveMetrics(cfg.MetricsListen, reg, log)
	if err != nil {
		return err
	}
	defer stopMetrics() // scraped while loads drain
	return serve(ctx, cfg, log, srv, pool, opts, m)
}

// sweepSessions drops expired load sessions every interval until the
// function it returns is called; that waits for the sweeper to end. Without
// a database there is nothing to sweep.
func sweepSessions(ctx context.Context, store *pgexec.SessionStore, every time.Duration, log *zap.Logger, redact func(string) string) func() {
	if store.Exec.Pool == nil {
		return func() {}
	}
	return inBackground(ctx, func(ctx context.Context) {
		store.SweepEvery(ctx, every, func(swept int, err error) {
			switch {
			case err != nil:
				log.Warn("sweeping expired load sessions failed; the next sweep tries again", zap.Int("swept", swept), zap.String("error", redact(err.Error())))
			case swept > 0:
				log.Info("swept expired load sessions and their stages", zap.Int("swept", swept))
			}
		})
	})
}

// inBackground runs fn in a goroutine of its own until the function it
// returns is called; that cancels fn's context and waits for fn to return.
func inBackground(ctx context.Context, fn func(ctx context.Context)) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	return func() { cancel(); <-done }
}

// migrateTimeout bounds the start's migration of loadsvc's own tables; a
// database that does not answer by then is migrated by the first load.
const migrateTimeout = 10 * time.Second

// migrate brings loadsvc's own tables to this binary's version at start.
// Tables newer than the binary stop the start; any other failure (the
// database down, a missing privilege) is logged, and the first load that
// needs the tables tries again and reports what fails.
func migrate(ctx context.Context, exec *pgexec.Executor, log *zap.Logger, redact func(string) string) error {
	if exec.Pool == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	err := exec.Migrate(ctx)
	var ve *pgexec.VersionError
	switch {
	case errors.As(err, &ve):
		return err
	case err != nil:
		log.Warn("loadsvc's own tables could not be migrated at start; the first load will try again", zap.String("error", redact(err.Error())))
	default:
		log.Info("loadsvc's own tables are current", zap.Int("schema_version", pgexec.SchemaVersion()))
	}
	return nil
}

// serveMetrics serves g on /metrics at addr, when set, until the function
// it returns is called; that waits for the listener to end. The listener's
// error, whenever it ends with one, is logged.
func serveMetrics(addr string, g prometheus.Gatherer, log *zap.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return inBackground(context.Background(), func(ctx context.Context) {
		if err := metrics.ServeListener(ctx, lis, g, log); err != nil {
			log.Error("metrics listener failed", zap.Error(err))
		}
	}), nil
}

// openPool resolves and checks the database URL and makes a pool that
// connects lazily, so the service starts while the database is down. No
// database configured is not an error: loads then answer UNAVAILABLE.
func openPool(cfg *config, getenv func(string) string, log *zap.Logger, tracer pgx.QueryTracer) (*pgxpool.Pool, func(string) string, error) {
	res, err := dsn.Resolve(cfg.DatabaseURL, getenv)
	if errors.Is(err, dsn.ErrNotConfigured) {
		log.Warn("no database configured; plans work, loads answer UNAVAILABLE", zap.Error(err))
		return nil, func(s string) string { return s }, nil
	}
	if err != nil {
		return nil, nil, err
	}
	pcfg, err := dsn.Check(res.URL)
	if err != nil {
		return nil, nil, err
	}
	pgexec.ConfigurePool(pcfg, cfg.ConnectTimeout)
	if tracer != nil {
		pcfg.ConnConfig.Tracer = tracer
	}
	secret := dsn.Password(res.URL, getenv)
	redact := func(s string) string { return dsn.RedactString(s, secret) }
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("database pool: %s", redact(err.Error()))
	}
	log.Info("database configured", zap.String("source", res.Source), zap.String("url", dsn.Redact(res.URL)),
		zap.Int32("pool_max_conns", pcfg.MaxConns))
	return pool, redact, nil
}

// serve runs the gRPC server until ctx ends, then shuts down gracefully:
// health NOT_SERVING first, in-flight RPCs get ShutdownTimeout to finish.
func serve(ctx context.Context, cfg *config, log *zap.Logger, srv *server.Server, pool *pgxpool.Pool, opts []grpc.ServerOption, m *metrics.Metrics) error {
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	gs := grpc.NewServer(opts...)
	hs := server.NewHealthService(cfg.MaxWatchStreams)
	server.Register(gs, srv)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	m.InitializeMetrics(gs)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(server.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go srv.WatchDatabase(wctx, hs.Server, cfg.HealthInterval)

	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	log.Info("serving", zap.String("listen", lis.Addr().String()))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", zap.Duration("timeout", cfg.ShutdownTimeout))
	hs.Shutdown() // every service NOT_SERVING first; then health watches end
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }() // no new RPCs; running ones go on
	dctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Drain(dctx); err != nil {
		log.Warn("shutdown timeout passed; cancelling the loads still running")
	}
	stopCalls(dctx, log, gs, stopped)
	<-errc
	return nil
}

// stopCalls ends what GracefulStop (stopped when it returns) waits for.
// A drained load has still to have its answer written: GracefulStop ends
// when it is. A reflection stream never ends by itself, so it gets a
// moment for that, not the whole shutdown timeout (dctx); then Stop
// cancels what is left (loads roll back).
func stopCalls(dctx context.Context, log *zap.Logger, gs *grpc.Server, stopped <-chan struct{}) {
	select {
	case <-stopped:
	case <-time.After(answerGrace):
	case <-dctx.Done():
	}
	select {
	case <-stopped:
		log.Info("stopped: every call ended")
	default:
		log.Warn("calls still open; closing their connections")
	}
	gs.Stop()
}

// answerGrace is how long a shutdown waits, after the last load finished,
// for gRPC to write the answers of the loads that finished last.
const answerGrace = 2 * time.Second

// newLogger logs to w at the configured level: JSON lines, or lines for
// people (console). Only ERROR and worse carry a stack trace — a client's
// mistake (WARN) stays on one line — and repeats are sampled as zap's
// production logger does, so a flood of refused calls cannot flood the log.
func newLogger(cfg *config, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	if cfg.LogFormat == "console" {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		if terminal(w) {
			ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		enc = zapcore.NewConsoleEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	core = zapcore.NewSamplerWithOptions(core, time.Second, 100, 100)
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel)), nil
}

// terminal reports whether w is a terminal, where colours help.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// version is the module version the binary was built from, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// backstop is the idle_in_transaction_session_timeout behind the stream
// idle timeout: PostgreSQL ends a session that the service itself failed to
// end in time.
func backstop(streamIdle time.Duration) time.Duration {
	if streamIdle <= 0 {
		return 0
	}
	return streamIdle + 30*time.Second
}
