package server

import (
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// configLabels is LoadConfig.labels' field number: a map's entries are its
// occurrences, counted before the config is decoded.
const configLabels = 11

// countLabels refuses a config carrying more labels than a load may,
// before they are decoded.
func countLabels(config []byte) error {
	n, err := countField(config, configLabels, protowire.BytesType)
	if err != nil || n <= loader.MaxLabels {
		return nil // a config that does not parse is refused by its decoding
	}
	return &loader.ValidationError{Field: "config.labels", Row: -1,
		Reason: fmt.Sprintf("the load carries %d labels; at most %d", n, loader.MaxLabels)}
}

// admitHistory gives an executing load its id and its caller's address,
// which its history records. A plan has no id, so it cannot stamp rows
// with one.
func (c *call) admitHistory(cfg *loader.Config, planOnly bool) error {
	if planOnly {
		if cfg.StampColumn != "" {
			return &loader.ValidationError{Field: "config.stamp_column", Row: -1,
				Reason: "stamp_column needs an executing load: a plan has no load id to stamp rows with; run the load, or dry_run it"}
		}
		return nil
	}
	cfg.LoadID, cfg.Peer = loader.NewLoadID(), peerAddr(c.ctx)
	c.loadID = cfg.LoadID
	trace.SpanFromContext(c.ctx).SetAttributes(attribute.String("loadsvc.load_id", cfg.LoadID))
	return nil
}

// historyFields are the access line's fields of the load's history: its
// id, and why its failure could not be recorded (the line is then the
// record).
func (c *call) historyFields() []zap.Field {
	var f []zap.Field
	if c.loadID != "" {
		f = append(f, zap.String("load_id", c.loadID))
	}
	if c.unrecorded != "" {
		f = append(f, zap.String("history_error", c.s.opt.Redact(c.unrecorded)))
	}
	return f
}

// withLoadID adds an executing load's id to its error's details: to its
// ErrorInfo's metadata, or as an ErrorInfo of its own when it has none
// (a refused row's BadRequest).
func withLoadID(st *status.Status, id string) *status.Status {
	if id == "" {
		return st
	}
	p := st.Proto()
	for _, d := range p.Details {
		var info errdetails.ErrorInfo
		if d.UnmarshalTo(&info) != nil {
			continue
		}
		if info.Metadata == nil {
			info.Metadata = map[string]string{}
		}
		info.Metadata["load_id"] = id
		if d.MarshalFrom(&info) == nil {
			return status.FromProto(p)
		}
	}
	return withDetails(st, &errdetails.ErrorInfo{Domain: errorDomain, Reason: ReasonLoadID, Metadata: map[string]string{"load_id": id}})
}
