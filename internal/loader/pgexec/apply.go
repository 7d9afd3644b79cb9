package pgexec

import (
	"context"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// apply is the apply phase of a careful load: the statements after the
// rows (duplicates, ANALYZE, the mode's writes) on the n staged rows,
// each write under a savepoint. A write that fails on a constraint is
// rolled back to just before it, where the constraint is traced to the
// staged rows that break it (trace); those are rejected, and the whole
// apply runs again without them, so that a delete_insert refreshes only
// the key tuples of the rows it writes. It ends when the apply succeeds,
// when the verdicts are done, or with the failure no row explains.
func (s *session) apply(ctx context.Context, r *loadRun, sh loader.Shape, sc loader.Script, n int) error {
	if err := s.exec1(ctx, "SAVEPOINT loadsvc_apply"); err != nil {
		return err
	}
	res, mark := r.res, len(r.res.Statements)
	for {
		res.Deleted, res.Inserted, res.Updated, res.Skipped, res.DuplicatesDropped = 0, 0, 0, 0, 0
		res.Statements = res.Statements[:mark]
		if len(r.bad.staged) > 0 {
			if err := s.exec1(ctx, loader.RejectSQL(r.cfg, sh, r.bad.staged)); err != nil {
				return err
			}
		}
		staged := int64(n - len(r.bad.staged))
		err := s.applyOnce(ctx, sc, staged, res)
		if err == nil {
			if r.cfg.Mode == loader.ModeInsertMissing {
				res.Skipped = staged - res.DuplicatesDropped - res.Inserted
			}
			return s.exec1(ctx, "RELEASE SAVEPOINT loadsvc_apply")
		}
		pg := verdictOf(err)
		if pg == nil {
			return err
		}
		found, terr := s.trace(ctx, r, sh, pg)
		if terr != nil {
			return terr
		}
		if len(found) == 0 {
			return err // not to be pinned on rows: the load fails as it did
		}
		for _, v := range found {
			r.bad.add(v)
		}
		if r.bad.done() {
			r.bad.stop()
			return nil
		}
		if err := s.exec1(ctx, "ROLLBACK TO SAVEPOINT loadsvc_apply"); err != nil {
			return err
		}
	}
}

// applyOnce runs the statements after the rows once, each write under a
// savepoint; a write that fails on a row is rolled back to it, the
// transaction alive, and returned with its error.
func (s *session) applyOnce(ctx context.Context, sc loader.Script, staged int64, res *loader.Result) error {
	for _, st := range sc.Post {
		st = st.WithRows(staged - res.DuplicatesDropped)
		switch st.Role() {
		case loader.RoleInsert, loader.RoleUpdate, loader.RoleDelete:
		default:
			if err := s.run(ctx, st, res); err != nil {
				return err
			}
			continue
		}
		if err := s.exec1(ctx, "SAVEPOINT loadsvc_write"); err != nil {
			return err
		}
		err := s.run(ctx, st, res)
		if err == nil {
			err = s.exec1(ctx, "RELEASE SAVEPOINT loadsvc_write")
			if err != nil {
				return err
			}
			continue
		}
		if verdictOf(err) != nil {
			if rerr := s.exec1(ctx, "ROLLBACK TO SAVEPOINT loadsvc_write; RELEASE SAVEPOINT loadsvc_write"); rerr != nil {
				return rerr
			}
		}
		return err
	}
	return nil
}
