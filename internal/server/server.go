package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Executor runs the loads of the requests that execute (pgexec.Executor runs
// them on PostgreSQL) and tells whether the database answers.
type Executor interface {
	// Run executes a load whose rows come from src, on one session in one
	// transaction; a load without rows never touches the database.
	Run(ctx context.Context, cfg loader.Config, src loader.Source) (*loader.Result, error)
	// Ping checks that the database answers; busy says every connection is
	// in use, so it was not asked. With no database configured the error
	// is loader.ErrNoDatabase.
	Ping(ctx context.Context) (busy bool, err error)
}

// Options are the server's knobs beyond the executor.
type Options struct {
	Logger *zap.Logger
	// Ledger names the executor's exactly-once ledger (pgexec.Executor's
	// Ledger), which is never a load target; the zero value is the default,
	// loadsvc.load_ledger.
	Ledger loader.Ledger
	// MaxRows bounds the rows of one Load request (and of a plan-only
	// stream, which is held in memory); 0 means no bound.
	MaxRows int
	// MaxStreamRows bounds the rows of one LoadStream; 0 means no bound.
	MaxStreamRows int
	// Redact scrubs secrets (the database password) from driver texts
	// before they reach a client or a log.
	Redact func(string) string
	// Allow, when set, decides before any connection whether the caller
	// (known from ctx) may write schema.table. It returns the schema the
	// load must use — an allowlist resolves an empty schema to a fixed one,
	// so that a search_path cannot redirect the load — or a gRPC status error
	// (PERMISSION_DENIED) naming what was refused.
	Allow func(ctx context.Context, schema, table string) (string, error)
	// Observer, when set, hears of every finished load (metrics).
	Observer Observer
	// MaxInflightBytes bounds the request bytes held decoded at once,
	// server-wide; a request waits for its share while its context lasts.
	// 0 means no bound.
	MaxInflightBytes int64
	// MaxPlanBytes bounds the answer of a plan-only request (its script
	// and statements) and the bytes a plan-only stream sends, which are
	// held in memory; 0 means 16 MiB.
	MaxPlanBytes int
	// StreamShareBytes is the share of MaxInflightBytes that one executing
	// stream holds from its first message to its end: each message,
	// received and decoded, must fit in it. 0 means 32 MiB.
	StreamShareBytes int64
	// StreamIdleTimeout ends a stream that sends no message for that long
	// with DEADLINE_EXCEEDED; its load is rolled back. 0 means no bound.
	StreamIdleTimeout time.Duration
	// StreamMaxDuration ends a stream that runs longer, however often it
	// sends, with DEADLINE_EXCEEDED; its load is rolled back. 0 means no
	// bound.
	StreamMaxDuration time.Duration
	// Principal, when set, names the caller of ctx (from its token); it
	// scopes request ids and owns load sessions.
	Principal func(ctx context.Context) string
	// History, when set, lists the recorded loads (ListLoads); unset,
	// ListLoads is UNIMPLEMENTED.
	History History
	// MaxRowErrors bounds the bad rows a load reports
	// (LOADSVC_MAX_ROW_ERRORS); 0 means loader.DefaultMaxRowErrors.
	MaxRowErrors int
	// Sessions keeps the load sessions (pgexec.SessionStore); nil answers
	// their RPCs UNIMPLEMENTED.
	Sessions Sessions
	// SessionTTL is a session's lifetime when BeginLoad asks none; 0 means
	// 24h. SessionMaxTTL bounds what it may ask; 0 means 7 days.
	SessionTTL, SessionMaxTTL time.Duration
}

// Observer hears of every finished load RPC.
type Observer interface {
	// LoadStarted and LoadFinished bracket one load RPC (in-flight gauge).
	LoadStarted(method string)
	LoadFinished(method string, o Outcome)
}

// Outcome is what one load RPC did, for metrics. It never holds row values.
type Outcome struct {
	Mode     string // delete_insert, append, …
	Table    string // schema.table as requested ("" schema: the table alone)
	Code     codes.Code
	Rows     int64 // rows the request carried
	Bytes    int64 // request payload bytes (proto size)
	Deleted  int64
	Inserted int64
	Updated  int64
	PlanOnly bool
	DryRun   bool
	// Admitted says the request passed admission (a valid config, the
	// allowlist); Resolved that the catalog then found its table: only
	// then is Table a name worth a metric label.
	Admitted, Resolved bool
	Duration           time.Duration
}

// Server implements loadsvc.v1.LoadService; Register serves it.
type Server struct {
	exec     Executor
	opt      Options
	budget   *budget
	inflight atomic.Int64 // loads running now
}

// Drain waits until no load is running or ctx ends; a shutdown calls it
// after it stopped taking new requests.
func (s *Server) Drain(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// New returns a Server that runs loads with exec.
func New(exec Executor, opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = zap.NewNop()
	}
	if opt.Redact == nil {
		opt.Redact = func(s string) string { return s }
	}
	if opt.MaxPlanBytes == 0 {
		opt.MaxPlanBytes = 16 << 20
	}
	if opt.StreamShareBytes == 0 {
		opt.StreamShareBytes = 32 << 20
	}
	if opt.SessionTTL == 0 {
		opt.SessionTTL = DefaultSessionTTL
	}
	if opt.SessionMaxTTL == 0 {
		opt.SessionMaxTTL = DefaultSessionMaxTTL
	}
	return &Server{exec: exec, opt: opt, budget: newBudget(opt.MaxInflightBytes)}
}

// newClaim is a call's empty claim on the budget; a stream's holds a fixed
// share (StreamShareBytes).
func (s *Server) newClaim(stream bool) *claim {
	if stream {
		return s.budget.newClaim(s.opt.StreamShareBytes)
	}
	return s.budget.newClaim(0)
}

// handleLoad loads one request's rows, or returns its plan. The request comes
// off the wire undecoded (see message): its config is decoded and admitted
// and its rows counted before any row is decoded.
func (s *Server) handleLoad(ctx context.Context, m *message) (*loadsvcv1.LoadResponse, error) {
	c := s.begin(ctx, "Load")
	cl := s.newClaim(false)
	defer cl.release()
	err := m.admit(ctx, cl)
	var p parts
	if err == nil {
		p, err = m.split()
	}
	var wire *loadsvcv1.LoadConfig
	if err == nil {
		wire, err = p.decodeConfig()
	}
	cfg := s.config(wire)
	var resp *loadsvcv1.LoadResponse
	if err == nil {
		err = c.admit(&cfg, wire.GetPlanOnly())
	}
	if err == nil {
		resp, err = c.load(&cfg, wire, p, cl)
	}
	if err != nil {
		resp = nil
	}
	return resp, c.end(wire, cfg, resp, int64(p.rows), err)
}

// load decodes a unary request's rows, all of them before the load takes
// a connection, and plans or runs them: a one-batch source on the one path
// of every executing load.
func (c *call) load(cfg *loader.Config, wire *loadsvcv1.LoadConfig, p parts, cl *claim) (*loadsvcv1.LoadResponse, error) {
	batch, err := p.decodeRows(c.ctx, cfg, cl, 0, nil)
	if err != nil {
		return nil, err
	}
	if wire.GetPlanOnly() {
		return c.s.plan(c.ctx, *cfg, batch, cl)
	}
	return c.run(cfg, loader.OneBatch(batch))
}

// run executes a load whose rows come from src, and notes whether the
// catalog found its table.
func (c *call) run(cfg *loader.Config, src loader.Source) (*loadsvcv1.LoadResponse, error) {
	res, err := c.s.exec.Run(c.ctx, *cfg, src)
	c.resolved = err == nil || (res != nil && res.Resolved)
	if res != nil {
		c.loadID, c.unrecorded = res.LoadID, res.Unrecorded // a replay's is the recorded load's
	}
	if err != nil {
		return nil, err
	}
	return resultResponse(cfg, res), nil
}

// plan answers a plan-only load of batch, whose answer is held to
// MaxPlanBytes and claimed before it is written.
func (s *Server) plan(ctx context.Context, cfg loader.Config, batch *loader.Batch, cl *claim) (*loadsvcv1.LoadResponse, error) {
	plan, err := loader.NewPlan(cfg, batch)
	if err != nil {
		return nil, err
	}
	size := plan.ScriptBytes()
	if size > s.opt.MaxPlanBytes {
		return nil, limitError("the plan of %d rows × %d columns would take up to %d bytes, more than a plan may (LOADSVC_MAX_PLAN_BYTES=%d); plan fewer rows, or run the load with dry_run",
			batch.Len(), len(batch.Columns), size, s.opt.MaxPlanBytes)
	}
	if err := cl.take(ctx, int64(size)); err != nil {
		return nil, err
	}
	return planResponse(plan), nil
}

// admit validates the config alone, keeps loadsvc's own tables from being
// a target and asks the allowlist, before any row is decoded.
func (c *call) admit(cfg *loader.Config, planOnly bool) error {
	s := c.s
	if planOnly && cfg.DryRun {
		return &loader.ValidationError{Field: "config.dry_run", Row: -1, Reason: "dry_run and plan_only cannot be set together: a plan never connects, a dry run runs the load and rolls it back; choose one"}
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	if planOnly { // a plan holds its values in memory, fieldBytes each besides their text
		cfg.MaxCells = s.opt.MaxPlanBytes / fieldBytes
		cfg.MaxCellsHint = fmt.Sprintf("a plan may hold in memory (LOADSVC_MAX_PLAN_BYTES=%d, %d bytes a value); plan fewer rows, or run the load with dry_run",
			s.opt.MaxPlanBytes, fieldBytes)
	}
	if what := s.ownTable(cfg); what != "" {
		return notATarget(cfg.Target(), what)
	}
	if err := c.admitHistory(cfg, planOnly); err != nil {
		return err
	}
	if s.opt.Allow != nil {
		schema, err := s.opt.Allow(c.ctx, cfg.Schema, cfg.Table)
		if err != nil {
			return err
		}
		cfg.Schema = schema
	}
	if s.opt.Principal != nil {
		cfg.Principal = s.opt.Principal(c.ctx)
	}
	c.admitted = true
	return nil
}

// ownTable names the table of loadsvc's own that cfg targets, "" for
// none: the ledger, a session table or the history.
func (s *Server) ownTable(cfg *loader.Config) string {
	l := s.opt.Ledger
	switch {
	case l.Holds(cfg.Schema, cfg.Table):
		return "loadsvc's exactly-once ledger"
	case l.HoldsSessions(cfg.Schema, cfg.Table):
		return "one of loadsvc's load session tables"
	case loader.HistoryOf(l).Holds(cfg.Schema, cfg.Table):
		return "loadsvc's load history"
	}
	return ""
}

// config turns the wire config into the loader's, before validation.
func (s *Server) config(c *loadsvcv1.LoadConfig) loader.Config {
	return loader.Config{
		Schema:           c.GetSchema(),
		Table:            c.GetTable(),
		Mode:             loader.Mode(c.GetMode()),
		Keys:             c.GetPk(),
		ChunkSize:        int(c.GetChunkSize()),
		Duplicates:       loader.Duplicates(c.GetDuplicates()),
		MaxRows:          s.opt.MaxRows,
		MaxRowsHint:      "per request (LOADSVC_MAX_ROWS); split it or use LoadStream",
		RequestID:        c.GetRequestId(),
		DryRun:           c.GetDryRun(),
		Labels:           c.GetLabels(),
		StampColumn:      c.GetStampColumn(),
		MaxDeletedRows:   c.GetMaxDeletedRows(),
		MaxRejectedRows:  c.GetMaxRejectedRows(),
		MaxRowErrors:     s.opt.MaxRowErrors,
		MaxRowErrorsHint: "LOADSVC_MAX_ROW_ERRORS",
	}
}

// call is one load RPC on its way: it logs one access line when it ends
// and tells the observer.
type call struct {
	s        *Server
	ctx      context.Context
	method   string
	start    time.Time
	admitted bool
	resolved bool // the catalog found the table
	// loadID is the executing load's id; unrecorded why its failure has
	// no history record (this call's log line is then the record).
	loadID, unrecorded string
}

func (s *Server) begin(ctx context.Context, method string) *call {
	s.inflight.Add(1)
	if s.opt.Observer != nil {
		s.opt.Observer.LoadStarted(method)
	}
	return &call{s: s, ctx: ctx, method: method, start: time.Now()}
}

// end logs the RPC — never row values, never the DSN — and turns err into
// its status.
// wire is the request's config as sent (nil when none arrived): plan_only
// and request_id come from it, so that a failed request is reported as what
// it asked for.
// rows is what the request carried, for a request that failed.
func (c *call) end(wire *loadsvcv1.LoadConfig, cfg loader.Config, resp *loadsvcv1.LoadResponse, rows int64, err error) error {
	reqID := wire.GetRequestId()
	defer c.s.inflight.Add(-1)
	var st *status.Status
	if err != nil {
		st = withLoadID(toStatus(err, c.s.opt.Redact), c.loadID)
	}
	o := Outcome{Mode: cfg.Mode.String(), Table: tableName(cfg), Code: st.Code(), Bytes: receivedBytes(c.ctx),
		Rows: max(resp.GetRows(), rows), Deleted: resp.GetDeleted(), Inserted: resp.GetInserted(), Updated: resp.GetUpdated(),
		PlanOnly: wire.GetPlanOnly(), DryRun: wire.GetDryRun(), Admitted: c.admitted, Resolved: c.resolved, Duration: time.Since(c.start)}
	if c.s.opt.Observer != nil {
		c.s.opt.Observer.LoadFinished(c.method, o)
	}
	fields := []zap.Field{
		zap.String("method", c.method), zap.String("table", o.Table), zap.String("mode", o.Mode),
		zap.String("code", o.Code.String()), zap.Duration("duration", o.Duration), zap.String("peer", peerAddr(c.ctx)),
		zap.Int64("rows", o.Rows), zap.Int64("bytes", o.Bytes), zap.Int64("deleted", o.Deleted), zap.Int64("inserted", o.Inserted),
		zap.Int64("updated", o.Updated), zap.Bool("plan_only", o.PlanOnly), zap.Bool("replayed", resp.GetReplayed()),
		zap.String("principal", cfg.Principal), // "" when the call has none
	}
	if o.DryRun {
		fields = append(fields, zap.Bool("dry_run", true))
	}
	if n := resp.GetRejectedRows(); n > 0 {
		fields = append(fields, zap.Int64("rejected", n))
	}
	if reqID != "" {
		fields = append(fields, zap.String("request_id", reqID))
	}
	fields = append(fields, c.historyFields()...)
	if st == nil {
		c.s.opt.Logger.Info("load", fields...)
		return nil
	}
	if pe := (*loader.PanicError)(nil); errors.As(err, &pe) {
		c.s.opt.Logger.Error("panic reading a load's rows", zap.String("method", c.method), zap.Any("panic", pe.Value), zap.ByteString("stack", pe.Stack))
	}
	c.s.opt.Logger.Warn("load", append(fields, zap.String("error", st.Message()))...)
	return st.Err()
}

// tableName is the table as requested, for logs and metric labels.
func tableName(cfg loader.Config) string {
	if cfg.Schema == "" {
		return cfg.Table
	}
	return cfg.Schema + "." + cfg.Table
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }
