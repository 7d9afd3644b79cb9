package pgexec

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// Describe reads the target's columns and unique indexes. A missing table
// fails with PostgreSQL's own 42P01 error. It uses the simple protocol, so
// no prepared statement outlives the transaction (PgBouncer-safe).
func Describe(ctx context.Context, conn *pgx.Conn, cfg *loader.Config) (*loader.Table, error) {
	reg := loader.QuoteLiteral(cfg.Target()) + "::regclass"
	keys := slices.Clone(cfg.Keys)
	slices.Sort(keys)
	lits := make([]string, len(keys))
	for i, k := range keys {
		lits[i] = loader.QuoteLiteral(k)
	}
	// Whether a unique index covers the keys: a load without keys has none
	// to cover, and is spared the subquery (it more than doubles the time
	// to plan and run this statement).
	unique := "false"
	if len(keys) > 0 {
		unique = `EXISTS (SELECT 1 FROM pg_index i
    WHERE i.indrelid = ` + reg + ` AND i.indisunique AND i.indisvalid
      AND i.indpred IS NULL AND i.indexprs IS NULL
      AND ARRAY(SELECT k.attname::text FROM pg_attribute k
                WHERE k.attrelid = i.indrelid AND k.attnum = ANY (i.indkey) ORDER BY 1)
          = ARRAY[` + strings.Join(lits, ", ") + `]::text[])`
	}
	sql := `SELECT a.attname::text, (a.attidentity = 'a' OR a.attgenerated <> ''), ` + unique + `
FROM pg_attribute a
WHERE a.attrelid = ` + reg + ` AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &loader.Table{Generated: make(map[string]bool)}
	for rows.Next() {
		var name string
		var generated bool
		if err := rows.Scan(&name, &generated, &t.UniqueOnKeys); err != nil {
			return nil, err
		}
		t.Columns = append(t.Columns, name)
		if generated {
			t.Generated[name] = true
		}
	}
	return t, rows.Err()
}
