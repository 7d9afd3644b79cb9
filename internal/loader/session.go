package loader

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Session is a load session: rows appended by any number of writers, each
// exactly once by its offset, into a durable stage, and applied to the
// table by one commit in one transaction. pgexec keeps it in PostgreSQL, so
// that any replica serves any call and a restart loses nothing.
type Session struct {
	ID        string
	Config    Config // checked, with the table's schema resolved
	ExpiresAt time.Time
	Committed bool
	// Rows are the rows stored, all writers together; Writers each
	// writer's next offset.
	Rows    int64
	Writers map[string]int64
	// Result is the commit's, once Committed.
	Result *Result
}

// Append is one writer's batch for a session.
type Append struct {
	SessionID, Principal string
	Writer               string
	Offset               int64 // rows the writer sent before this batch
	Batch                *Batch
}

// Appended is what an append stored.
type Appended struct {
	Writer     string
	NextOffset int64
	Rows       int64 // 0 for a batch stored already
}

// NewSessionID is a random 128-bit session id, as 32 hex digits: it cannot
// be guessed, and it is a valid part of an identifier.
func NewSessionID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// CheckSessionID refuses an id that NewSessionID could not have made,
// before any database is asked.
func CheckSessionID(id string) error {
	if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
		return &SessionError{Kind: SessionNotFound, ID: id}
	}
	return nil
}

// SessionTTL is the lifetime a BeginLoad asks for, 0 for def, held to
// [MinSessionTTL, max].
func SessionTTL(ttl, def, max time.Duration) (time.Duration, error) {
	if ttl == 0 {
		ttl = def
	}
	if ttl < MinSessionTTL || ttl > max {
		return 0, invalid("ttl", -1, "ttl %s is out of range: a session lives from %s to %s (LOADSVC_SESSION_MAX_TTL); 0 means LOADSVC_SESSION_TTL (%s)", ttl, MinSessionTTL, max, def)
	}
	return ttl, nil
}

// MinSessionTTL is the shortest lifetime a session may ask for.
const MinSessionTTL = time.Second

// CheckSessionConfig refuses what a session cannot do: a plan (a session
// always executes) and a dry run (a commit writes; abort the session to
// write nothing).
func CheckSessionConfig(planOnly, dryRun bool) error {
	if planOnly {
		return invalid("config.plan_only", -1, "plan_only is refused by BeginLoad: a load session stores its rows and always executes; ask Load or LoadStream for a plan")
	}
	if dryRun {
		return invalid("config.dry_run", -1, "dry_run is refused by BeginLoad: CommitLoad always writes; run a dry run through Load or LoadStream, or AbortLoad the session to write nothing")
	}
	return nil
}

// SessionKind is what is wrong with a session call.
type SessionKind int

// The kinds of session refusal.
const (
	SessionNotFound  SessionKind = iota + 1 // no such session for this caller
	SessionExpired                          // past its expiry, not yet swept
	SessionCommitted                        // committed: it takes no rows
	SessionGap                              // the offset is past the writer's next offset
	SessionStraddle                         // the batch straddles the writer's next offset
	SessionLost                             // the stage lost rows its writers stored (a database crash)
)

// SessionError refuses a session call. It never says whether a session
// exists for another caller: that is SessionNotFound, as for none.
type SessionError struct {
	Kind      SessionKind
	ID        string
	Writer    string
	Offset    int64     // the batch's offset
	Rows      int64     // the batch's rows
	Next      int64     // the writer's stored next offset
	ExpiresAt time.Time // SessionExpired
	Staged    int64     // SessionLost: the rows the stage holds, against Rows stored
}

func (e *SessionError) Error() string {
	switch e.Kind {
	case SessionExpired:
		return fmt.Sprintf("load session %s expired at %s (its ttl; LOADSVC_SESSION_TTL by default) and takes no more calls; begin a new one", e.ID, e.ExpiresAt.UTC().Format(time.RFC3339))
	case SessionCommitted:
		return fmt.Sprintf("load session %s is committed and takes no more rows; begin a new one", e.ID)
	case SessionLost:
		return fmt.Sprintf("load session %s cannot commit: its writers stored %d rows but its stage holds %d; PostgreSQL empties an UNLOGGED stage when it restarts after a crash. Nothing was written; abort the session and append the rows to a new one",
			e.ID, e.Rows, e.Staged)
	case SessionGap:
		return fmt.Sprintf("writer %q of load session %s sent offset %d, past its next offset %d: rows %d to %d are missing; resend from offset %d",
			e.Writer, e.ID, e.Offset, e.Next, e.Next, e.Offset-1, e.Next)
	case SessionStraddle:
		return fmt.Sprintf("writer %q of load session %s sent %d rows at offset %d, which straddle its next offset %d: rows %d to %d were stored already and the rest were not; resend from offset %d with the same batches as before",
			e.Writer, e.ID, e.Rows, e.Offset, e.Next, e.Offset, e.Next-1, e.Next)
	}
	return fmt.Sprintf("load session %q not found: it was never begun, was aborted, or expired and was swept (sessions are visible only to the caller that began them)", e.ID)
}

// OffsetCheck decides a writer's batch of n rows at offset against its
// stored next offset: stored already (write nothing, acknowledge), to be
// written, or refused.
func OffsetCheck(a *Append, n, next int64) (stored bool, err error) {
	switch {
	case a.Offset < 0:
		return false, invalid("offset", -1, "offset %d is negative; it is how many rows writer %q sent before this batch", a.Offset, a.Writer)
	case a.Offset == next:
		return false, nil
	case a.Offset > next:
		return false, &SessionError{Kind: SessionGap, ID: a.SessionID, Writer: a.Writer, Offset: a.Offset, Rows: n, Next: next}
	case a.Offset+n <= next:
		return true, nil
	}
	return false, &SessionError{Kind: SessionStraddle, ID: a.SessionID, Writer: a.Writer, Offset: a.Offset, Rows: n, Next: next}
}

// StageOrdinal is the stage column that numbers the rows (Shape.Ordinal).
const StageOrdinal = ordinalName

// SessionDigest is what the ledger compares for a session's commit that
// carries a request id: the config's target, mode, keys and duplicates
// policy, and the number of rows stored (the rows themselves stay in the
// stage and are not hashed).
func SessionDigest(cfg *Config, rows int64) string {
	d := newDigest(cfg)
	d.str("load session")
	d.num(rows)
	return d.sum()
}

// HoldsSessions reports whether schema.table (an empty schema: any schema)
// is one of the tables that keep the load sessions, in the ledger's schema,
// which no load may write.
func (l Ledger) HoldsSessions(schema, table string) bool {
	l = l.WithDefaults()
	return (table == SessionsTable || table == SessionWritersTable) && (schema == "" || schema == l.Schema)
}

// The tables of the load sessions, in the ledger's schema.
const (
	SessionsTable       = "load_sessions"
	SessionWritersTable = "load_session_writers"
)
