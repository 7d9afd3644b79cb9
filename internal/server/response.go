package server

import (
	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// planResponse answers a plan-only request: the statements, the script and
// what the planner can count without the catalog.
func planResponse(p *loader.Plan) *loadsvcv1.LoadResponse {
	r := &loadsvcv1.LoadResponse{
		Table:             p.Config.Table,
		Mode:              loadsvcv1.Mode(p.Config.Mode),
		Batches:           int32(p.Batches()),
		PlanOnly:          true,
		Statements:        statements(p.Statements()),
		SqlScript:         p.Script(),
		DuplicatesDropped: int64(p.DuplicatesDropped),
		Rows:              int64(p.Rows),
	}
	switch p.Config.Mode {
	case loader.ModeDeleteInsert:
		r.Deleted = int64(p.KeyTuples)
		r.Inserted = int64(p.Rows - p.DuplicatesDropped)
	case loader.ModeAppend, loader.ModeReplace:
		r.Inserted = int64(p.Rows)
	}
	return r
}

// resultResponse answers an executed load.
func resultResponse(cfg *loader.Config, res *loader.Result) *loadsvcv1.LoadResponse {
	return &loadsvcv1.LoadResponse{
		Table:             cfg.Table,
		Mode:              loadsvcv1.Mode(cfg.Mode),
		Deleted:           res.Deleted,
		Inserted:          res.Inserted,
		Updated:           res.Updated,
		Skipped:           res.Skipped,
		DuplicatesDropped: res.DuplicatesDropped,
		Rows:              res.Rows,
		Batches:           int32(res.Batches),
		Statements:        statements(res.Statements),
		SkippedColumns:    res.SkippedColumns,
		Replayed:          res.Replayed,
		DryRun:            res.DryRun,
		LoadId:            res.LoadID,
		RejectedRows:      res.RejectedRows,
		Rejected:          rowErrors(res.Rejected),
	}
}

// rowErrors are a load's bad rows on the wire.
func rowErrors(in []loader.RowError) []*loadsvcv1.RowError {
	if len(in) == 0 {
		return nil
	}
	out := make([]*loadsvcv1.RowError, len(in))
	for i, e := range in {
		out[i] = &loadsvcv1.RowError{Row: e.Row, Column: e.Column, Value: e.Value, Sqlstate: e.SQLState, Message: e.Message, Constraint: e.Constraint}
	}
	return out
}

func statements(in []loader.Statement) []*loadsvcv1.Statement {
	out := make([]*loadsvcv1.Statement, len(in))
	for i, s := range in {
		out[i] = &loadsvcv1.Statement{Sql: s.SQL, Rows: s.Rows}
	}
	return out
}
