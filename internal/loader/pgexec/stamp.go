package pgexec

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// checkStamp checks the load's stamp column against the catalog, before
// any write: its type (format_type's text) decides whether it can hold a
// load id; loader.CheckStamp says what else it must be.
func (s *session) checkStamp(ctx context.Context, cfg *loader.Config, t *loader.Table, columns []string) error {
	if cfg.StampColumn == "" {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var typ string
	err := s.conn.QueryRow(ctx, `SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = `+loader.QuoteLiteral(cfg.Target())+`::regclass AND a.attname = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
		pgx.QueryExecModeSimpleProtocol, cfg.StampColumn).Scan(&typ)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return loader.CheckStamp(cfg, t, columns, typ)
}
