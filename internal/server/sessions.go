package server

import (
	"context"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Sessions keeps load sessions: rows appended by many writers, exactly once
// by offset, and applied by one commit. pgexec.SessionStore keeps them in
// PostgreSQL. A session belongs to the principal that began it: for any
// other, every call answers as for a session that does not exist.
type Sessions interface {
	Begin(ctx context.Context, cfg loader.Config, ttl time.Duration) (*loader.Session, error)
	Append(ctx context.Context, a loader.Append) (*loader.Appended, error)
	Get(ctx context.Context, principal, id string) (*loader.Session, error)
	// Commit asks allow (nil: none) about the session's table before it
	// writes it.
	Commit(ctx context.Context, principal, id string, allow func(schema, table string) error) (*loader.Session, error)
	Abort(ctx context.Context, principal, id string) error
}

// The session lifetimes when the options give none.
const (
	DefaultSessionTTL    = 24 * time.Hour
	DefaultSessionMaxTTL = 7 * 24 * time.Hour
)

// The fields of BeginLoadRequest and AppendRowsRequest that the handlers
// read themselves.
const (
	beginTTL         = 2
	appendSessionID  = 1
	appendWriter     = 2
	appendOffset     = 3
	maxWriterBytes   = 200
	appendRowsField  = 4
	appendTypedField = 5
)

var (
	beginLayout  = layout{config: fieldConfig}
	appendLayout = layout{rows: appendRowsField, typed: appendTypedField}
)

// handleBeginLoad opens a session. Its config is admitted as a Load's
// (checked, the ledger and the allowlist) and the table resolved now.
func (s *Server) handleBeginLoad(ctx context.Context, m *message) (*loadsvcv1.LoadSession, error) {
	c, cl, p, err := s.sessionCall(ctx, m, "BeginLoad", beginLayout)
	defer cl.release()
	var wire *loadsvcv1.LoadConfig
	if err == nil {
		wire, err = p.decodeConfig()
	}
	if err == nil && wire == nil {
		err = &loader.ValidationError{Field: "config", Row: -1, Reason: "BeginLoad needs a config: the table, the mode and, for keyed modes, pk"}
	}
	cfg := s.config(wire)
	if err == nil {
		err = loader.CheckSessionConfig(wire.GetPlanOnly(), wire.GetDryRun())
	}
	if err == nil {
		err = c.admit(&cfg, false)
	}
	var ttl time.Duration
	if err == nil {
		ttl, err = s.beginTTL(p.msg)
	}
	var resp *loadsvcv1.LoadSession
	if err == nil {
		var sess *loader.Session
		sess, err = s.opt.Sessions.Begin(ctx, cfg, ttl)
		if err == nil {
			c.resolved = true
			resp = sessionResponse(sess)
		}
	}
	return resp, c.end(wire, cfg, nil, 0, err)
}

// sessionCall starts a session RPC that carries a message: its call, its
// claim on the budget (the caller releases it), and the message admitted
// and split by l.
func (s *Server) sessionCall(ctx context.Context, m *message, method string, l layout) (*call, *claim, parts, error) {
	c := s.begin(ctx, method)
	cl := s.newClaim(false)
	err := s.sessionsOn()
	if err == nil {
		err = m.admit(ctx, cl)
	}
	var p parts
	if err == nil {
		p, err = m.splitAs(l)
	}
	return c, cl, p, err
}

// beginTTL is the ttl a BeginLoad asks, held to the server's bounds.
func (s *Server) beginTTL(msg []byte) (time.Duration, error) {
	var ttl time.Duration
	err := eachField(msg, func(num protowire.Number, typ protowire.Type, raw []byte) error {
		if num != beginTTL || typ != protowire.BytesType {
			return nil
		}
		d := &durationpb.Duration{}
		if err := proto.Unmarshal(raw, d); err != nil {
			return err
		}
		if err := d.CheckValid(); err != nil {
			return err
		}
		ttl = d.AsDuration()
		return nil
	})
	if err != nil {
		return 0, &loader.ValidationError{Field: "ttl", Row: -1, Reason: "ttl is not a valid Duration: " + err.Error()}
	}
	return loader.SessionTTL(ttl, s.opt.SessionTTL, s.opt.SessionMaxTTL)
}

// handleAppendRows stores one writer's batch. The rows are decoded as a
// Load's are (the same decoders, the same budget), then stored in one
// transaction of their own.
func (s *Server) handleAppendRows(ctx context.Context, m *message) (*loadsvcv1.AppendRowsResponse, error) {
	c, cl, p, err := s.sessionCall(ctx, m, "AppendRows", appendLayout)
	defer cl.release()
	var a loader.Append
	if err == nil {
		a, err = appendHeader(p.msg)
	}
	if err == nil {
		err = loader.CheckSessionID(a.SessionID) // before any row is decoded
	}
	cfg := loader.Config{MaxRows: s.opt.MaxRows, MaxRowsHint: "per AppendRows request (LOADSVC_MAX_ROWS); send them as several batches"}
	if err == nil {
		a.Batch, err = p.decodeRows(ctx, &cfg, cl, 0, nil)
	}
	var resp *loadsvcv1.AppendRowsResponse
	if err == nil {
		a.Principal = s.principal(ctx)
		var out *loader.Appended
		out, err = s.opt.Sessions.Append(ctx, a)
		if err == nil {
			resp = &loadsvcv1.AppendRowsResponse{Writer: out.Writer, NextOffset: out.NextOffset, Rows: out.Rows}
		}
	}
	rows := p.rows
	if a.Batch != nil {
		rows = a.Batch.Len() // typed rows too
	}
	return resp, c.end(nil, cfg, nil, int64(rows), err)
}

// appendHeader reads an AppendRowsRequest's session id, writer and offset.
func appendHeader(msg []byte) (loader.Append, error) {
	var a loader.Append
	err := eachField(msg, func(num protowire.Number, typ protowire.Type, raw []byte) error {
		switch {
		case num == appendSessionID && typ == protowire.BytesType:
			a.SessionID = string(raw)
		case num == appendWriter && typ == protowire.BytesType:
			a.Writer = string(raw)
		case num == appendOffset && typ == protowire.VarintType:
			a.Offset = int64(varint(raw))
		}
		return nil
	})
	switch {
	case err != nil:
		return a, &loader.ValidationError{Field: "request", Row: -1, Reason: "the request is not a valid AppendRowsRequest: " + err.Error()}
	case !utf8.ValidString(a.Writer) || len(a.Writer) > maxWriterBytes:
		return a, &loader.ValidationError{Field: "writer", Row: -1, Reason: "writer must be valid UTF-8 of at most 200 bytes"}
	}
	return a, nil
}

// handleSession answers GetLoadSession, CommitLoad and AbortLoad.
func (s *Server) handleSession(ctx context.Context, method, id string) (any, error) {
	c := s.begin(ctx, method)
	var cfg loader.Config
	var resp any
	var result *loadsvcv1.LoadResponse
	err := s.sessionsOn()
	if err == nil {
		var sess *loader.Session
		principal := s.principal(ctx)
		switch method {
		case "GetLoadSession":
			sess, err = s.opt.Sessions.Get(ctx, principal, id)
		case "CommitLoad":
			sess, err = s.opt.Sessions.Commit(ctx, principal, id, s.allowCommit(ctx))
		default:
			err = s.opt.Sessions.Abort(ctx, principal, id)
			resp = &loadsvcv1.AbortLoadResponse{}
		}
		if sess != nil {
			cfg, c.admitted, c.resolved = sess.Config, true, true
			resp = sessionResponse(sess)
			if method == "CommitLoad" {
				result = resp.(*loadsvcv1.LoadSession).GetResult()
				resp = result
			}
		}
	}
	if err != nil {
		resp = nil
	}
	return resp, c.end(nil, cfg, result, 0, err)
}

// allowCommit asks the table allowlists again before a commit writes the
// session's table: a token whose allowlist lost the table since BeginLoad
// cannot commit it. Appends only fill the session's own stage.
func (s *Server) allowCommit(ctx context.Context) func(schema, table string) error {
	if s.opt.Allow == nil {
		return nil
	}
	return func(schema, table string) error {
		_, err := s.opt.Allow(ctx, schema, table)
		return err
	}
}

func (s *Server) sessionsOn() error {
	if s.opt.Sessions == nil {
		return sessionsOff()
	}
	return nil
}

// principal is the caller of ctx, "" without authentication.
func (s *Server) principal(ctx context.Context) string {
	if s.opt.Principal == nil {
		return ""
	}
	return s.opt.Principal(ctx)
}

// sessionResponse is a session as the wire gives it.
func sessionResponse(sess *loader.Session) *loadsvcv1.LoadSession {
	cfg := sess.Config
	out := &loadsvcv1.LoadSession{
		SessionId: sess.ID,
		ExpiresAt: timestamppb.New(sess.ExpiresAt),
		State:     loadsvcv1.SessionState_SESSION_STATE_OPEN,
		Rows:      sess.Rows,
		Committed: sess.Writers,
		Config: &loadsvcv1.LoadConfig{Table: cfg.Table, Schema: cfg.Schema, Mode: loadsvcv1.Mode(cfg.Mode), Pk: cfg.Keys,
			ChunkSize: int32(cfg.ChunkSize), Duplicates: loadsvcv1.Duplicates(cfg.Duplicates), RequestId: cfg.RequestID},
	}
	if sess.Committed {
		out.State = loadsvcv1.SessionState_SESSION_STATE_COMMITTED
		out.Result = resultResponse(&cfg, sess.Result)
	}
	return out
}
