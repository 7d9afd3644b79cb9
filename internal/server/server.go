package server

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
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
	// Redact scrubs secrets (the database password) from driver texts
	// before they reach a client or a log.
	Redact func(string) string
	// Allow, when set, decides before any connection whether the caller
	// (known from ctx) may write schema.table. It returns the schema the
	// load must use — an allowlist resolves an empty schema to a fixed one,
	// so that a search_path cannot redirect the load — or a gRPC status error
	// (PERMISSION_DENIED) naming what was refused.
	Allow func(ctx context.Context, schema, table string) (string, error)
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

// track counts a load as running until the returned func is called.
func (s *Server) track() func() {
	s.inflight.Add(1)
	return func() { s.inflight.Add(-1) }
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
	defer s.track()()
	start := time.Now()
	cfg := s.config(req.GetConfig())
	resp, err := s.load(ctx, &cfg, req)
	return resp, s.finish("Load", cfg, resp, start, err)
}

func (s *Server) load(ctx context.Context, cfg *loader.Config, req *loadsvcv1.LoadRequest) (*loadsvcv1.LoadResponse, error) {
	if err := s.admit(ctx, cfg); err != nil {
		return nil, err
	}
	batch, err := requestBatch(req.GetRows(), req.GetTypedRows(), 0)
	if err != nil {
		return nil, err
	}
	plan, err := loader.NewPlan(*cfg, batch)
	if err != nil {
		return nil, err
	}
	if req.GetConfig().GetPlanOnly() {
		return planResponse(plan), nil
	}
	res, err := s.exec.Run(ctx, plan)
	if err != nil {
		return nil, err
	}
	return resultResponse(&plan.Config, res), nil
}

// admit validates the config alone and asks the allowlist, before anything
// else of the request is decoded.
func (s *Server) admit(ctx context.Context, cfg *loader.Config) error {
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
		Schema:     c.GetSchema(),
		Table:      c.GetTable(),
		Mode:       loader.Mode(c.GetMode()),
		Keys:       c.GetPk(),
		ChunkSize:  int(c.GetChunkSize()),
		Duplicates: loader.Duplicates(c.GetDuplicates()),
		MaxRows:    s.opt.MaxRows,
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

// finish logs one line per RPC and turns err into its status.
func (s *Server) finish(method string, cfg loader.Config, resp *loadsvcv1.LoadResponse, start time.Time, err error) error {
	fields := []zap.Field{
		zap.String("method", method),
		zap.String("table", cfg.Target()),
		zap.Stringer("mode", cfg.Mode),
		zap.Duration("duration", time.Since(start)),
	}
	if err == nil {
		fields = append(fields, zap.String("code", codes.OK.String()), zap.Int64("rows", resp.GetRows()),
			zap.Int64("deleted", resp.GetDeleted()), zap.Int64("inserted", resp.GetInserted()),
			zap.Int64("updated", resp.GetUpdated()), zap.Bool("plan_only", resp.GetPlanOnly()))
		s.opt.Logger.Info("load", fields...)
		return nil
	}
	st := toStatus(err, s.opt.Redact)
	fields = append(fields, zap.String("code", st.Code().String()), zap.String("error", st.Message()))
	s.opt.Logger.Warn("load", fields...)
	return st.Err()
}

func itoa(i int) string { return strconv.Itoa(i) }
