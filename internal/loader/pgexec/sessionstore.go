package pgexec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// SessionStore keeps load sessions in PostgreSQL: a row of
// loadsvc.load_sessions each, a row of loadsvc.load_session_writers per
// writer with its next offset, and an UNLOGGED stage table each in
// StageSchema that holds the rows appended. Any replica serves any call on
// any session, and a restart loses nothing. Every call is one transaction
// of the executor's (its pool, timeouts and error classification).
type SessionStore struct {
	Exec *Executor
	// StageSchema holds the stages; default "loadsvc_stage".
	StageSchema string
	// MaxPerPrincipal bounds the open sessions one principal holds (those
	// that hold a stage); 0 means 100.
	MaxPerPrincipal int
	// MaxRows bounds the rows one session's stage holds, all writers
	// together; 0 for no limit.
	MaxRows int64
	// MaxWriters bounds the writers one session holds: each keeps a row
	// that every GetLoadSession and CommitLoad reads and answers; 0 means
	// DefaultMaxWriters.
	MaxWriters int
}

// DefaultMaxWriters is the most writers a session holds when MaxWriters is
// 0: GetLoadSession answers every writer's next offset, and this many of
// the longest names (200 bytes) still fit a 4 MiB gRPC message.
const DefaultMaxWriters = 10000

// DefaultStageSchema is the schema of the stages when none is set.
const DefaultStageSchema = "loadsvc_stage"

// sessionLockClass keys the advisory locks of the sessions: one principal's
// Begins, and the sweep ('lses' as int4).
const sessionLockClass = "1819501939"

func (st *SessionStore) stageSchema() string {
	if st.StageSchema == "" {
		return DefaultStageSchema
	}
	return st.StageSchema
}

func (st *SessionStore) maxWriters() int64 {
	if st.MaxWriters <= 0 {
		return DefaultMaxWriters
	}
	return int64(st.MaxWriters)
}

func (st *SessionStore) maxPerPrincipal() int {
	if st.MaxPerPrincipal <= 0 {
		return 100
	}
	return st.MaxPerPrincipal
}

// sessionsTable and writersTable are loadsvc's session tables, in the
// ledger's schema.
func (e *Executor) sessionsTable() string {
	return loader.QuoteIdent(e.Ledger.WithDefaults().Schema) + "." + loader.QuoteIdent(loader.SessionsTable)
}

func (e *Executor) writersTable() string {
	return loader.QuoteIdent(e.Ledger.WithDefaults().Schema) + "." + loader.QuoteIdent(loader.SessionWritersTable)
}

// sessionsDDL is the migration step of the session tables. A writer's row
// goes with its session's (ON DELETE CASCADE).
func sessionsDDL(e *Executor) []string {
	return []string{
		"CREATE TABLE " + e.sessionsTable() + ` (
  session_id   text PRIMARY KEY,
  principal    text NOT NULL,
  config       jsonb NOT NULL,
  stage_schema text NOT NULL,
  stage_table  text NOT NULL,
  writable     text[] NOT NULL,
  generated    text[] NOT NULL,
  state        text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'committed')),
  result       jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL)`,
		"CREATE INDEX ON " + e.sessionsTable() + " (principal)",
		"CREATE INDEX ON " + e.sessionsTable() + " (expires_at)",
		"CREATE TABLE " + e.writersTable() + ` (
  session_id  text NOT NULL REFERENCES ` + e.sessionsTable() + ` ON DELETE CASCADE,
  writer      text NOT NULL,
  next_offset bigint NOT NULL DEFAULT 0,
  batches     integer NOT NULL DEFAULT 0,
  columns     text[] NOT NULL DEFAULT '{}',
  skipped     text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (session_id, writer))`,
	}
}

// Begin opens a session for cfg (checked and admitted by the caller), which
// expires after ttl: the table is resolved and pinned to its schema, the
// principal's limit is held, and the stage is created with the table's
// writable columns, typed as the table types them, so that a bad value is
// refused by the append that brings it.
func (st *SessionStore) Begin(ctx context.Context, cfg loader.Config, ttl time.Duration) (*loader.Session, error) {
	if err := cfg.CheckOnce(); err != nil {
		return nil, err
	}
	id, err := loader.NewSessionID()
	if err != nil {
		return nil, err
	}
	out := &loader.Session{ID: id, Writers: map[string]int64{}}
	err = st.Exec.inTx(ctx, true, func(s *session) error {
		if err := st.holdLimit(ctx, s, cfg.Principal); err != nil {
			return err
		}
		ls, err := st.newSession(ctx, s, id, &cfg)
		if err != nil {
			return err
		}
		if err := st.ensureStageSchema(ctx, s); err != nil {
			return err
		}
		if _, err := s.conn.Exec(ctx, ls.createStage(), pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		if err := ls.insert(ctx, s, ttl); err != nil {
			return err
		}
		out.Config, out.ExpiresAt = ls.cfg, ls.expires
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// holdLimit refuses a Begin past the principal's limit. Begins of one
// principal are serialized for the rest of the transaction, so that two
// cannot both take the last place. An expired session counts until it is
// swept: its stage is there until then.
func (st *SessionStore) holdLimit(ctx context.Context, s *session, principal string) error {
	if _, err := s.conn.Exec(ctx, "SELECT pg_advisory_xact_lock("+sessionLockClass+", hashtext($1))", pgx.QueryExecModeSimpleProtocol, principal); err != nil {
		return err
	}
	var n int
	if err := s.conn.QueryRow(ctx, "SELECT count(*) FROM "+st.Exec.sessionsTable()+" WHERE principal = $1 AND state = 'open'", pgx.QueryExecModeSimpleProtocol, principal).Scan(&n); err != nil {
		return err
	}
	if n >= st.maxPerPrincipal() {
		return &loader.ValidationError{Field: "config", Row: -1, Limit: true, Reason: fmt.Sprintf(
			"this caller holds %d open load sessions, the most one principal may (LOADSVC_MAX_SESSIONS=%d); commit or abort one, or wait until one expires and is swept", n, st.maxPerPrincipal())}
	}
	return nil
}

// newSession resolves cfg's table and pins it to its schema, so that every
// replica's call reaches the same table whatever its search_path.
func (st *SessionStore) newSession(ctx context.Context, s *session, id string, cfg *loader.Config) (*loadSession, error) {
	table, err := Describe(ctx, s.conn, cfg)
	if err != nil {
		return nil, err
	}
	for _, k := range cfg.Keys {
		if !slices.Contains(table.Columns, k) {
			return nil, &loader.UnknownColumnError{Table: cfg.Target(), Column: k}
		}
	}
	writable, generated, err := table.Writable(cfg, table.Columns)
	if err != nil {
		return nil, err
	}
	generated = append([]string{}, generated...) // never NULL
	if cfg.Schema == "" {
		if err := s.conn.QueryRow(ctx, "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = "+
			loader.QuoteLiteral(cfg.Target())+"::regclass", pgx.QueryExecModeSimpleProtocol).Scan(&cfg.Schema); err != nil {
			return nil, err
		}
	}
	return &loadSession{exec: st.Exec, id: id, cfg: *cfg, stageSchema: st.stageSchema(), stageTable: "s_" + id, writable: writable, generated: generated}, nil
}

// ensureStageSchema creates the stages' schema when it is missing, one
// transaction at a time.
func (st *SessionStore) ensureStageSchema(ctx context.Context, s *session) error {
	var missing bool
	if err := s.conn.QueryRow(ctx, "SELECT to_regnamespace($1) IS NULL", pgx.QueryExecModeSimpleProtocol, loader.QuoteIdent(st.stageSchema())).Scan(&missing); err != nil || !missing {
		return err
	}
	_, err := s.conn.Exec(ctx, "SELECT pg_advisory_xact_lock("+migrateLockClass+", 1); "+refreshCatalog+"; CREATE SCHEMA IF NOT EXISTS "+loader.QuoteIdent(st.stageSchema()))
	return err
}

// Get is the session id of principal with every writer's next offset.
func (st *SessionStore) Get(ctx context.Context, principal, id string) (*loader.Session, error) {
	if err := loader.CheckSessionID(id); err != nil {
		return nil, err
	}
	var out *loader.Session
	err := st.Exec.inTx(ctx, true, func(s *session) error {
		ls, err := st.open(ctx, s, principal, id, "FOR SHARE")
		if err != nil {
			return err
		}
		out, err = ls.session(ctx, s)
		return err
	})
	return out, err
}

// Append stores one writer's batch in the session's stage, exactly once by
// its offset, with the writer's next offset, in one transaction.
func (st *SessionStore) Append(ctx context.Context, a loader.Append) (*loader.Appended, error) {
	if err := loader.CheckSessionID(a.SessionID); err != nil {
		return nil, err
	}
	var out *loader.Appended
	err := st.Exec.inTx(ctx, true, func(s *session) error {
		// FOR SHARE: appends run side by side, a commit or an abort
		// waits for them (and they for it).
		ls, err := st.open(ctx, s, a.Principal, a.SessionID, "FOR SHARE")
		if err == nil {
			err = ls.usable()
		}
		if err != nil {
			return err
		}
		out, err = ls.append(ctx, s, &a)
		return err
	})
	return out, err
}

// Commit applies the session's rows to its table in one transaction, drops
// the stage and keeps the result in the session, which a retried Commit
// returns until the session expires. allow, when not nil, is asked about
// the session's table first: its error, as it is, refuses the commit. A
// failed commit leaves the session open, its stage intact.
func (st *SessionStore) Commit(ctx context.Context, principal, id string, allow func(schema, table string) error) (*loader.Session, error) {
	if err := loader.CheckSessionID(id); err != nil {
		return nil, err
	}
	var out *loader.Session
	var attempt *loadSession // the session whose commit ran: a failure is its load's
	started := time.Now()
	err := st.Exec.onSession(ctx, func(s *session) error {
		ls, err := st.open(ctx, s, principal, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if allow != nil {
			if err := allow(ls.cfg.Schema, ls.cfg.Table); err != nil {
				return &loader.SourceError{Err: err} // the caller's refusal, returned as it is
			}
		}
		if !ls.committed {
			if err := ls.usable(); err != nil {
				return err
			}
			attempt = ls
			if err := ls.commit(ctx, s); err != nil {
				return err
			}
		}
		if out, err = ls.session(ctx, s); err != nil {
			return err
		}
		return s.end(ctx, true)
	}, func(s *session, err error) {
		if attempt != nil { // the history records a failed commit as a failed load
			s.recordFailure(&attempt.cfg, &loader.Result{Rows: attempt.rows}, started, err)
		}
	})
	return out, err
}

// Abort drops the session, its writers and its stage.
func (st *SessionStore) Abort(ctx context.Context, principal, id string) error {
	if err := loader.CheckSessionID(id); err != nil {
		return err
	}
	return st.Exec.inTx(ctx, true, func(s *session) error {
		ls, err := st.open(ctx, s, principal, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		return ls.drop(ctx, s)
	})
}

// sweepBatch bounds the sessions one sweep transaction drops (and locks).
const sweepBatch = 100

// Sweep drops the expired sessions with their stages, one replica at a
// time: a replica whose peer sweeps now sweeps nothing. It returns how many
// it dropped.
func (st *SessionStore) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := st.sweepOnce(ctx)
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}

func (st *SessionStore) sweepOnce(ctx context.Context) (int, error) {
	n := 0
	err := st.Exec.inTx(ctx, true, func(s *session) error {
		var mine bool
		if err := s.conn.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock("+sessionLockClass+", 0)", pgx.QueryExecModeSimpleProtocol).Scan(&mine); err != nil || !mine {
			return err
		}
		// SKIP LOCKED: a session being appended to or committed right
		// now is swept next time.
		rows, err := s.conn.Query(ctx, "SELECT "+sessionColumns+" FROM "+st.Exec.sessionsTable()+
			" WHERE expires_at <= now() ORDER BY expires_at LIMIT "+strconv.Itoa(sweepBatch)+" FOR UPDATE SKIP LOCKED", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return err
		}
		expired, err := pgx.CollectRows(rows, scanSession)
		if err != nil {
			return err
		}
		for _, ls := range expired {
			ls.exec = st.Exec
			if err := ls.drop(ctx, s); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	return n, err
}

// SweepEvery sweeps every interval until ctx ends, telling report what
// each sweep dropped, or why it failed (the next one tries again).
func (st *SessionStore) SweepEvery(ctx context.Context, every time.Duration, report func(swept int, err error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := st.Sweep(ctx); ctx.Err() == nil {
			report(n, err)
		}
	}
}

// open reads the session id of principal, locked with lock; another
// principal's session is not found, as one that does not exist.
func (st *SessionStore) open(ctx context.Context, s *session, principal, id, lock string) (*loadSession, error) {
	rows, err := s.conn.Query(ctx, "SELECT "+sessionColumns+" FROM "+st.Exec.sessionsTable()+" WHERE session_id = $1 AND principal = $2 "+lock,
		pgx.QueryExecModeSimpleProtocol, id, principal)
	if err != nil {
		return nil, err
	}
	ls, err := pgx.CollectExactlyOneRow(rows, scanSession)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &loader.SessionError{Kind: loader.SessionNotFound, ID: id}
	}
	if err != nil {
		return nil, err
	}
	ls.exec, ls.maxRows, ls.maxWriters = st.Exec, st.MaxRows, st.maxWriters()
	return ls, nil
}
