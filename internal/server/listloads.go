package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// History lists the recorded loads (pgexec.Executor.ListLoads): newest
// first, those q selects, at most q.Limit.
type History interface {
	ListLoads(ctx context.Context, q loader.HistoryQuery) ([]loader.Record, error)
}

// The page sizes of ListLoads.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
	// maxScanned bounds the records one page reads past those the caller
	// may not see; the page then ends early, with a token to go on.
	maxScanned = 10 * maxPageSize
)

// listLoads answers one ListLoads: a page of the records req selects that
// the caller may see, newest first, and the token of the next page.
type listLoads struct {
	s       *Server
	ctx     context.Context
	q       loader.HistoryQuery
	size    int
	visible func(r *loader.Record) bool
}

func (s *Server) handleListLoads(ctx context.Context, req *loadsvcv1.ListLoadsRequest) (*loadsvcv1.ListLoadsResponse, error) {
	start := time.Now()
	resp, err := s.listLoads(ctx, req)
	var st *status.Status
	if err != nil {
		st = toStatus(err, s.opt.Redact)
	}
	fields := []zap.Field{zap.String("method", "ListLoads"), zap.String("code", st.Code().String()), zap.Duration("duration", time.Since(start)),
		zap.String("peer", peerAddr(ctx)), zap.Int("loads", len(resp.GetLoads()))}
	if s.opt.Principal != nil {
		fields = append(fields, zap.String("principal", s.opt.Principal(ctx)))
	}
	if st != nil {
		s.opt.Logger.Warn("list loads", append(fields, zap.String("error", st.Message()))...)
		return nil, st.Err()
	}
	s.opt.Logger.Info("list loads", fields...)
	return resp, nil
}

func (s *Server) listLoads(ctx context.Context, req *loadsvcv1.ListLoadsRequest) (*loadsvcv1.ListLoadsResponse, error) {
	if s.opt.History == nil {
		return nil, historyOff()
	}
	l, err := s.newListLoads(ctx, req)
	if err != nil {
		return nil, err
	}
	return l.page()
}

// newListLoads checks req. With authentication, the caller sees only the
// records of tables it may write (Options.Allow); without, every record.
func (s *Server) newListLoads(ctx context.Context, req *loadsvcv1.ListLoadsRequest) (*listLoads, error) {
	l := &listLoads{s: s, ctx: ctx, size: int(req.GetPageSize()), visible: func(*loader.Record) bool { return true }}
	l.q = loader.HistoryQuery{Schema: req.GetSchema(), Table: req.GetTable(), Status: req.GetStatus()}
	switch {
	case l.size < 0:
		return nil, listInvalid("page_size", "page_size %d is negative; 0 means %d, at most %d", l.size, defaultPageSize, maxPageSize)
	case l.size == 0:
		l.size = defaultPageSize
	case l.size > maxPageSize:
		l.size = maxPageSize
	}
	if st := l.q.Status; st != "" && st != loader.StatusCommitted && st != loader.StatusFailed {
		return nil, listInvalid("status", "status %q is neither %q nor %q", loader.Cap(st), loader.StatusCommitted, loader.StatusFailed)
	}
	for _, t := range []struct {
		name string
		ts   *timestamppb.Timestamp
		into *time.Time
	}{{"since", req.GetSince(), &l.q.Since}, {"until", req.GetUntil(), &l.q.Until}} {
		if t.ts == nil {
			continue
		}
		if err := t.ts.CheckValid(); err != nil {
			return nil, listInvalid(t.name, "%s is not a valid timestamp: %v", t.name, err)
		}
		*t.into = t.ts.AsTime()
	}
	if tok := req.GetPageToken(); tok != "" {
		after, err := parsePageToken(tok)
		if err != nil {
			return nil, listInvalid("page_token", "page_token is not one this service gave: %v; start again without it", err)
		}
		l.q.After = after
	}
	if s.opt.Allow != nil && s.opt.Principal != nil && s.opt.Principal(ctx) != "" {
		seen := map[[2]string]bool{} // one verdict per table a page reads, not per record
		l.visible = func(r *loader.Record) bool {
			t := [2]string{r.Schema, r.Table}
			ok, found := seen[t]
			if !found {
				_, err := s.opt.Allow(ctx, r.Schema, r.Table)
				ok = err == nil
				seen[t] = ok
			}
			return ok
		}
	}
	return l, nil
}

// page reads records until the page is full, the records end, or
// maxScanned were read past; the next page goes on after the last record
// read.
func (l *listLoads) page() (*loadsvcv1.ListLoadsResponse, error) {
	resp := &loadsvcv1.ListLoadsResponse{}
	l.q.Limit = l.size + 1 // one more than a page: whether there is a next
	for scanned := 0; ; {
		recs, err := l.s.opt.History.ListLoads(l.ctx, l.q)
		if err != nil {
			return nil, err
		}
		for i := range recs {
			r := &recs[i]
			if len(resp.Loads) == l.size {
				resp.NextPageToken = pageToken(l.q.After)
				return resp, nil
			}
			key := r.Key()
			l.q.After = &key
			scanned++
			if l.visible(r) {
				resp.Loads = append(resp.Loads, recordProto(r))
			}
		}
		if len(recs) < l.q.Limit {
			return resp, nil // no record left
		}
		if scanned >= maxScanned {
			resp.NextPageToken = pageToken(l.q.After)
			return resp, nil
		}
		// The caller may see none of what was read: read on in reads of the
		// largest page, not of this page's size (page_size 1 would
		// otherwise take maxScanned/2 queries).
		l.q.Limit = min(maxPageSize, maxScanned-scanned) + 1
	}
}

func listInvalid(field, format string, args ...any) error {
	return &loader.ValidationError{Field: field, Row: -1, Reason: fmt.Sprintf(format, args...)}
}

// pageTokenPrefix versions the page token.
const pageTokenPrefix = "v1:"

// pageToken is the opaque token of the page that goes on after k: the
// record's start time in microseconds and its id.
func pageToken(k *loader.HistoryKey) string {
	raw := pageTokenPrefix + strconv.FormatInt(k.StartedAt.UnixMicro(), 10) + ":" + k.LoadID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// maxPageToken is longer than any token pageToken writes ("v1:", 20
// digits, ":", a 36-byte id, in base64): a longer one is refused before
// it is decoded.
const maxPageToken = 128

func parsePageToken(tok string) (*loader.HistoryKey, error) {
	if len(tok) > maxPageToken {
		return nil, fmt.Errorf("%d bytes long; a token is at most %d", len(tok), maxPageToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, fmt.Errorf("not base64url")
	}
	rest, ok := strings.CutPrefix(string(raw), pageTokenPrefix)
	micros, id, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return nil, fmt.Errorf("not of the form this service writes")
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("no start time")
	}
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return nil, fmt.Errorf("no load id")
	}
	return &loader.HistoryKey{StartedAt: time.UnixMicro(us), LoadID: id}, nil
}

// recordProto is a record as ListLoads answers it.
func recordProto(r *loader.Record) *loadsvcv1.LoadRecord {
	return &loadsvcv1.LoadRecord{
		LoadId: r.LoadID, Status: r.Status, Principal: r.Principal, Peer: r.Peer, Schema: r.Schema, Table: r.Table,
		Mode: modeOf(r.Mode), RequestId: r.RequestID, Labels: r.Labels,
		Rows: r.Rows, Inserted: r.Inserted, Updated: r.Updated, Deleted: r.Deleted, Skipped: r.Skipped, Rejected: r.Rejected,
		StartedAt: timestamppb.New(r.StartedAt), FinishedAt: timestamppb.New(r.FinishedAt),
		Duration: durationpb.New(r.FinishedAt.Sub(r.StartedAt)),
		Code:     r.Code, Sqlstate: r.SQLState, Message: r.Message,
	}
}

// modeOf is the wire mode of a recorded mode's name.
func modeOf(name string) loadsvcv1.Mode {
	for m := loader.ModeDeleteInsert; m <= loader.ModeReplace; m++ {
		if m.String() == name {
			return loadsvcv1.Mode(m)
		}
	}
	return loadsvcv1.Mode_MODE_UNSPECIFIED
}
