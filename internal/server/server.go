package server

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Options are the server's knobs beyond the executor.
type Options struct {
	Logger *zap.Logger
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
	Duration time.Duration
}

// Server implements loadsvc.v1.LoadService.
type Server struct {
	loadsvcv1.UnimplementedLoadServiceServer
	exec     *loader.Executor
	opt      Options
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
func New(exec *loader.Executor, opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = zap.NewNop()
	}
	if opt.Redact == nil {
		opt.Redact = func(s string) string { return s }
	}
	return &Server{exec: exec, opt: opt}
}

// Load loads one request's rows, or returns its plan.
func (s *Server) Load(ctx context.Context, req *loadsvcv1.LoadRequest) (*loadsvcv1.LoadResponse, error) {
	c := s.begin(ctx, "Load")
	cfg := s.config(req.GetConfig())
	resp, err := s.load(ctx, &cfg, req)
	if err != nil {
		resp = nil
	}
	return resp, c.end(req.GetConfig(), cfg, resp, err)
}

func (s *Server) load(ctx context.Context, cfg *loader.Config, req *loadsvcv1.LoadRequest) (*loadsvcv1.LoadResponse, error) {
	if err := s.admit(ctx, cfg, req.GetConfig().GetPlanOnly()); err != nil {
		return nil, err
	}
	batch, err := requestBatch(req.GetRows(), req.GetTypedRows(), 0)
	if err != nil {
		return nil, err
	}
	if req.GetConfig().GetPlanOnly() {
		plan, err := loader.NewPlan(*cfg, batch)
		if err != nil {
			return nil, err
		}
		return planResponse(plan), nil
	}
	res, err := s.exec.Run(ctx, *cfg, loader.OneBatch(batch))
	if err != nil {
		return nil, err
	}
	return resultResponse(cfg, res), nil
}

// admit validates the config alone and asks the allowlist, before anything
// else of the request is decoded.
func (s *Server) admit(ctx context.Context, cfg *loader.Config, planOnly bool) error {
	if planOnly && cfg.DryRun {
		return &loader.ValidationError{Field: "config.dry_run", Row: -1, Reason: "dry_run and plan_only cannot be set together: a plan never connects, a dry run runs the load and rolls it back; choose one"}
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	if s.opt.Allow == nil {
		return nil
	}
	schema, err := s.opt.Allow(ctx, cfg.Schema, cfg.Table)
	if err != nil {
		return err
	}
	cfg.Schema = schema
	return nil
}

// config turns the wire config into the loader's, before validation.
func (s *Server) config(c *loadsvcv1.LoadConfig) loader.Config {
	return loader.Config{
		Schema:      c.GetSchema(),
		Table:       c.GetTable(),
		Mode:        loader.Mode(c.GetMode()),
		Keys:        c.GetPk(),
		ChunkSize:   int(c.GetChunkSize()),
		Duplicates:  loader.Duplicates(c.GetDuplicates()),
		MaxRows:     s.opt.MaxRows,
		MaxRowsHint: "per request (LOADSVC_MAX_ROWS); split it or use LoadStream",
		RequestID:   c.GetRequestId(),
		DryRun:      c.GetDryRun(),
	}
}

// requestBatch decodes the rows of one message, JSON or typed, not both.
func requestBatch(rows []*structpb.Struct, typed *loadsvcv1.TypedRows, offset int) (*loader.Batch, error) {
	if len(rows) > 0 && len(typed.GetColumns()) > 0 {
		return nil, &loader.ValidationError{Field: "typed_rows", Row: -1, Reason: "a message carries rows or typed_rows, not both"}
	}
	if len(typed.GetColumns()) > 0 {
		return typedBatch(typed, offset)
	}
	cols, err := loader.StructColumns(rows)
	if err != nil {
		return nil, err
	}
	return loader.FromStructs(cols, rows, offset)
}

// call is one load RPC on its way: it logs one access line when it ends
// and tells the observer.
type call struct {
	s      *Server
	ctx    context.Context
	method string
	start  time.Time
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
func (c *call) end(wire *loadsvcv1.LoadConfig, cfg loader.Config, resp *loadsvcv1.LoadResponse, err error) error {
	reqID := wire.GetRequestId()
	defer c.s.inflight.Add(-1)
	var st *status.Status
	if err != nil {
		st = toStatus(err, c.s.opt.Redact)
	}
	o := Outcome{Mode: cfg.Mode.String(), Table: tableName(cfg), Code: st.Code(), Bytes: receivedBytes(c.ctx),
		Rows: resp.GetRows(), Deleted: resp.GetDeleted(), Inserted: resp.GetInserted(), Updated: resp.GetUpdated(),
		PlanOnly: wire.GetPlanOnly(), DryRun: wire.GetDryRun(), Duration: time.Since(c.start)}
	if c.s.opt.Observer != nil {
		c.s.opt.Observer.LoadFinished(c.method, o)
	}
	fields := []zap.Field{
		zap.String("method", c.method), zap.String("table", o.Table), zap.String("mode", o.Mode),
		zap.String("code", o.Code.String()), zap.Duration("duration", o.Duration), zap.String("peer", peerAddr(c.ctx)),
		zap.Int64("rows", o.Rows), zap.Int64("bytes", o.Bytes), zap.Int64("deleted", o.Deleted), zap.Int64("inserted", o.Inserted),
		zap.Int64("updated", o.Updated), zap.Bool("plan_only", o.PlanOnly), zap.Bool("replayed", resp.GetReplayed()),
	}
	if o.DryRun {
		fields = append(fields, zap.Bool("dry_run", true))
	}
	if reqID != "" {
		fields = append(fields, zap.String("request_id", reqID))
	}
	if st == nil {
		c.s.opt.Logger.Info("load", fields...)
		return nil
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
