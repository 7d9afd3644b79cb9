package pgexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// ledger is the exactly-once ledger (loader.Ledger) on one load's session:
// every load that carries a request id is recorded, with its result, in the
// load's own transaction, so that a retry of a load that committed finds it
// and replays the result instead of writing again. Migrate creates the
// table.
type ledger struct {
	conn  *pgx.Conn
	names loader.Ledger // with defaults
}

// ledgerLockClass keys the advisory locks that serialize loads of one
// request id ('ldgr' as int4).
const ledgerLockClass = "1818519410"

// entry is one recorded load.
type entry struct {
	target, digest string
	result         loader.Result
}

// claim locks the request id for this transaction and returns its recorded
// load, or nil when there is none.
func (l *ledger) claim(ctx context.Context, id string) (*entry, error) {
	if _, err := l.conn.Exec(ctx, "SELECT pg_advisory_xact_lock("+ledgerLockClass+", hashtext($1))", pgx.QueryExecModeSimpleProtocol, id); err != nil {
		return nil, err
	}
	var e entry
	var raw []byte
	err := l.conn.QueryRow(ctx, "SELECT target, digest, result::text FROM "+l.names.Target()+" WHERE request_id = $1", pgx.QueryExecModeSimpleProtocol, id).
		Scan(&e.target, &e.digest, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &e.result); err != nil {
		return nil, fmt.Errorf("ledger entry of request_id %q: %w", id, err)
	}
	return &e, nil
}

// record writes the load's result under its request id.
func (l *ledger) record(ctx context.Context, id string, cfg *loader.Config, digest string, res *loader.Result) error {
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = l.conn.Exec(ctx, "INSERT INTO "+l.names.Target()+" (request_id, target, mode, digest, result) VALUES ($1, $2, $3, $4, $5::jsonb)",
		pgx.QueryExecModeSimpleProtocol, id, cfg.Target(), cfg.Mode.String(), digest, string(raw))
	return err
}

// replay checks a recorded load against this one: the same table and
// payload replays its result, anything else is a conflict.
func (e *entry) replay(id string, cfg *loader.Config, digest string) (*loader.Result, error) {
	if e.target != cfg.Target() {
		return nil, &loader.ConflictError{RequestID: id, Reason: "for table " + e.target + ", not " + cfg.Target()}
	}
	if e.digest != digest {
		return nil, &loader.ConflictError{RequestID: id, Reason: "with a different payload (config or rows)"}
	}
	r := e.result
	r.Replayed = true
	return &r, nil
}
