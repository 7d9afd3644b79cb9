package loader

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Ledger records every load that carries a request id, with its result, in
// the load's own transaction: a retry of a load that committed finds it and
// replays the result instead of writing again. The table is created the
// first time a load needs it.
type Ledger struct {
	Schema string // default "loadsvc"
	Table  string // default "load_ledger"
	ready  atomic.Bool
}

// ConflictError is a request id already recorded for another table or
// another payload.
type ConflictError struct {
	RequestID string
	Reason    string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("request_id %q was already used %s; use a new request_id for a different load", e.RequestID, e.Reason)
}

// ledgerLockClass keys the advisory locks that serialize loads of one
// request id ('ldgr' as int4).
const ledgerLockClass = "1818519410"

func (l *Ledger) name() string {
	schema, table := l.Schema, l.Table
	if schema == "" {
		schema = "loadsvc"
	}
	if table == "" {
		table = "load_ledger"
	}
	return QuoteIdent(schema) + "." + QuoteIdent(table)
}

// Holds reports whether schema.table (an empty schema: any schema) is the
// ledger's own table, which no load may write.
func (l *Ledger) Holds(schema, table string) bool {
	name := l.Table
	if name == "" {
		name = "load_ledger"
	}
	return table == name && (schema == "" || schema == l.schema())
}

func (l *Ledger) schema() string {
	if l.Schema == "" {
		return "loadsvc"
	}
	return l.Schema
}

// ensure creates the ledger if this process has not seen it yet. Creation
// is serialized with an advisory lock, so concurrent first loads do not
// race on the catalog.
func (l *Ledger) ensure(ctx context.Context, conn *pgx.Conn) error {
	if l.ready.Load() {
		return nil
	}
	for _, sql := range []string{
		"SELECT pg_advisory_xact_lock(" + ledgerLockClass + ", 0)",
		"CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(l.schema()),
		"CREATE TABLE IF NOT EXISTS " + l.name() + ` (
  request_id  text PRIMARY KEY,
  target      text NOT NULL,
  mode        text NOT NULL,
  digest      text NOT NULL,
  result      jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now())`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}

// entry is one recorded load.
type entry struct {
	target, digest string
	result         Result
}

// claim locks the request id for this transaction and returns its recorded
// load, or nil when there is none.
func (l *Ledger) claim(ctx context.Context, conn *pgx.Conn, id string) (*entry, error) {
	if err := l.ensure(ctx, conn); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_xact_lock("+ledgerLockClass+", hashtext($1))", pgx.QueryExecModeSimpleProtocol, id); err != nil {
		return nil, err
	}
	var e entry
	var raw []byte
	err := conn.QueryRow(ctx, "SELECT target, digest, result::text FROM "+l.name()+" WHERE request_id = $1", pgx.QueryExecModeSimpleProtocol, id).
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
func (l *Ledger) record(ctx context.Context, conn *pgx.Conn, id string, cfg *Config, digest string, res *Result) error {
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "INSERT INTO "+l.name()+" (request_id, target, mode, digest, result) VALUES ($1, $2, $3, $4, $5::jsonb)",
		pgx.QueryExecModeSimpleProtocol, id, cfg.Target(), cfg.Mode.String(), digest, string(raw))
	return err
}

// replay checks a recorded load against this one: the same table and
// payload replays its result, anything else is a conflict.
func (e *entry) replay(id string, cfg *Config, digest string) (*Result, error) {
	if e.target != cfg.Target() {
		return nil, &ConflictError{RequestID: id, Reason: "for table " + e.target + ", not " + cfg.Target()}
	}
	if e.digest != digest {
		return nil, &ConflictError{RequestID: id, Reason: "with a different payload (config or rows)"}
	}
	r := e.result
	r.Replayed = true
	return &r, nil
}

// digest hashes what makes two loads the same load: the config's target,
// mode, keys and duplicates policy, then the columns and every field of
// every row in order.
type digest struct {
	h       hash.Hash
	columns bool
}

func newDigest(cfg *Config) *digest {
	d := &digest{h: sha256.New()}
	d.str(cfg.Target())
	d.str(cfg.Mode.String())
	for _, k := range cfg.Keys {
		d.str(k)
	}
	d.num(int64(cfg.Duplicates))
	return d
}

func (d *digest) str(s string) {
	d.num(int64(len(s)))
	d.h.Write([]byte(s))
}

func (d *digest) num(n int64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	d.h.Write(b[:])
}

// add hashes a batch; the first batch also hashes the columns.
func (d *digest) add(b *Batch) {
	if !d.columns {
		d.columns = true
		d.num(int64(len(b.Columns)))
		for _, c := range b.Columns {
			d.str(c)
		}
	}
	for _, f := range b.Values {
		if f.Null {
			d.num(-1)
			continue
		}
		d.str(f.Text)
	}
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
