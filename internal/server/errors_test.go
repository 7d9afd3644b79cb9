package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// raiseTrigger makes every insert into t fail with the given SQLSTATE, the
// way PostgreSQL itself reports it.
func raiseTrigger(t *testing.T, b *bundle, sqlstate string) {
	t.Helper()
	b.exec1(t, `CREATE FUNCTION raise_`+sqlstate+`() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'raised %', '`+sqlstate+`' USING ERRCODE = '`+sqlstate+`'; END $$`)
	b.exec1(t, `CREATE TRIGGER raise BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION raise_`+sqlstate+`()`)
}

// Every row of the contract's error table, through a real client and server.
func TestErrorTable(t *testing.T) {
	t.Parallel()
	type tc struct {
		name     string
		schema   string // run against the fresh database before the load
		prepare  func(t *testing.T, b *bundle)
		req      *loadsvcv1.LoadRequest
		code     codes.Code
		prefix   string
		reason   string            // ErrorInfo reason; "" for BadRequest
		metadata map[string]string // ErrorInfo metadata that must be present
		field    string            // BadRequest field
	}
	cfg := func(mode loadsvcv1.Mode) *loadsvcv1.LoadConfig {
		return &loadsvcv1.LoadConfig{Table: "t", Mode: mode, Pk: []string{"id"}}
	}
	appendCfg := cfg(loadsvcv1.Mode_MODE_APPEND)
	table := `CREATE TABLE t (id int PRIMARY KEY, v text, d date, n int NOT NULL DEFAULT 0 CHECK (n >= 0))`
	cases := []tc{
		{name: "bad mode", req: &loadsvcv1.LoadRequest{Config: cfg(99), Rows: seqRows(t, 0, 1)},
			code: codes.InvalidArgument, prefix: "unknown mode 99", field: "config.mode"},
		{name: "missing pk", req: &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t"}, Rows: seqRows(t, 0, 1)},
			code: codes.InvalidArgument, prefix: "mode delete_insert needs key columns", field: "config.pk"},
		{name: "row without key", req: &loadsvcv1.LoadRequest{Config: cfg(0), Rows: rows(t, map[string]any{"id": 1}, map[string]any{"v": "x"})},
			code: codes.InvalidArgument, prefix: `row 1 has no value for key column "id"`, field: "rows[1].id"},
		{name: "null key", req: &loadsvcv1.LoadRequest{Config: cfg(0), Rows: rows(t, map[string]any{"id": nil, "v": "x"})},
			code: codes.InvalidArgument, prefix: `row 0 has no value for key column "id"`, field: "rows[0].id"},
		{name: "bad identifier", req: &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: strings.Repeat("x", 64), Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: seqRows(t, 0, 1)},
			code: codes.InvalidArgument, prefix: "table name", field: "config.table"},
		{name: "too many rows", req: &loadsvcv1.LoadRequest{Config: appendCfg, Rows: seqRows(t, 0, 11)},
			code: codes.ResourceExhausted, prefix: "the load carries 11 rows or more, past the limit of 10 rows per request", field: "rows"},
		{name: "unique violation", schema: table + `; INSERT INTO t VALUES (1, 'a')`, req: &loadsvcv1.LoadRequest{Config: appendCfg, Rows: seqRows(t, 1, 1)},
			code: codes.AlreadyExists, prefix: "load failed: duplicate key value violates unique constraint", reason: "LOAD_FAILED",
			metadata: map[string]string{"sqlstate": "23505", "constraint": "t_pkey", "table": "t", "detail": "Key (id)=(1) already exists."}},
		{name: "not null", schema: table, req: &loadsvcv1.LoadRequest{Config: appendCfg, Rows: rows(t, map[string]any{"id": 1, "n": nil})},
			code: codes.FailedPrecondition, prefix: `load failed: null value in column "n"`, reason: "LOAD_FAILED",
			metadata: map[string]string{"sqlstate": "23502", "column": "n", "table": "t"}},
		{name: "check", schema: table, req: &loadsvcv1.LoadRequest{Config: appendCfg, Rows: rows(t, map[string]any{"id": 1, "n": -1})},
			code: codes.FailedPrecondition, prefix: `load failed: new row for relation "t" violates check constraint`, reason: "LOAD_FAILED",
			metadata: map[string]string{"sqlstate": "23514", "constraint": "t_n_check"}},
		{name: "data exception", schema: table, req: &loadsvcv1.LoadRequest{Config: cfg(0), Rows: rows(t, map[string]any{"id": 1, "d": "2024-13-45"})},
			code: codes.InvalidArgument, prefix: `load failed: date/time field value out of range: "2024-13-45"`, reason: "LOAD_FAILED",
			metadata: map[string]string{"sqlstate": "22008"}},
		{name: "undefined table", req: &loadsvcv1.LoadRequest{Config: cfg(0), Rows: seqRows(t, 0, 1)},
			code: codes.NotFound, prefix: `load failed: relation "t" does not exist`, reason: "LOAD_FAILED",
			metadata: map[string]string{"sqlstate": "42P01"}},
		{name: "unknown column", schema: table, req: &loadsvcv1.LoadRequest{Config: cfg(0), Rows: rows(t, map[string]any{"id": 1, "nope": 2})},
			code: codes.InvalidArgument, prefix: `load failed: column "nope" of relation "t" does not exist`, reason: "UNKNOWN_COLUMN",
			metadata: map[string]string{"column": "nope", "sqlstate": "42703"}},
		{name: "serialization failure", schema: table, prepare: func(t *testing.T, b *bundle) { raiseTrigger(t, b, "40001") },
			req:  &loadsvcv1.LoadRequest{Config: appendCfg, Rows: seqRows(t, 0, 1)},
			code: codes.Aborted, prefix: "load failed: raised 40001", reason: "LOAD_FAILED", metadata: map[string]string{"sqlstate": "40001"}},
		{name: "deadlock", schema: table, prepare: func(t *testing.T, b *bundle) { raiseTrigger(t, b, "40P01") },
			req:  &loadsvcv1.LoadRequest{Config: cfg(0), Rows: seqRows(t, 0, 1)},
			code: codes.Aborted, prefix: "load failed: raised 40P01", reason: "LOAD_FAILED", metadata: map[string]string{"sqlstate": "40P01"}},
		{name: "insufficient privilege", schema: table, prepare: func(t *testing.T, b *bundle) { raiseTrigger(t, b, "42501") },
			req:  &loadsvcv1.LoadRequest{Config: appendCfg, Rows: seqRows(t, 0, 1)},
			code: codes.PermissionDenied, prefix: "load failed: raised 42501", reason: "LOAD_FAILED", metadata: map[string]string{"sqlstate": "42501"}},
		{name: "resources", schema: table, prepare: func(t *testing.T, b *bundle) { raiseTrigger(t, b, "53100") },
			req:  &loadsvcv1.LoadRequest{Config: appendCfg, Rows: seqRows(t, 0, 1)},
			code: codes.ResourceExhausted, prefix: "load failed: raised 53100", reason: "LOAD_FAILED", metadata: map[string]string{"sqlstate": "53100"}},
		{name: "other", schema: table, prepare: func(t *testing.T, b *bundle) { raiseTrigger(t, b, "P0001") },
			req:  &loadsvcv1.LoadRequest{Config: appendCfg, Rows: seqRows(t, 0, 1)},
			code: codes.Internal, prefix: "load failed: raised P0001", reason: "LOAD_FAILED", metadata: map[string]string{"sqlstate": "P0001"}},
		{name: "connection lost mid-load", schema: table, prepare: func(t *testing.T, b *bundle) {
			b.exec1(t, `CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$`)
			b.exec1(t, `CREATE TRIGGER die BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION die()`)
		}, req: &loadsvcv1.LoadRequest{Config: cfg(0), Rows: seqRows(t, 0, 1)},
			code: codes.Aborted, prefix: "load failed: the database connection was lost", reason: "LOAD_FAILED", metadata: map[string]string{"sqlstate": "57P01"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *setupOpts) { o.maxRows = 10 })
			if c.schema != "" {
				b.exec1(t, c.schema)
			}
			if c.prepare != nil {
				c.prepare(t, b)
			}
			before := b.pool.Stat().AcquireCount()
			_, err := b.client.Load(context.Background(), c.req)
			st := wantCode(t, err, c.code, c.prefix)
			if c.reason == "" {
				if f := badRequestField(t, st); f != c.field {
					t.Errorf("BadRequest field %q, want %q", f, c.field)
				}
				if b.pool.Stat().AcquireCount() != before {
					t.Errorf("a bad request acquired a connection")
				}
				return
			}
			ei := errorInfo(t, st)
			if ei.Reason != c.reason {
				t.Errorf("reason %q, want %q", ei.Reason, c.reason)
			}
			for k, v := range c.metadata {
				if ei.Metadata[k] != v {
					t.Errorf("metadata[%s] = %q, want %q (all: %v)", k, ei.Metadata[k], v, ei.Metadata)
				}
			}
			if c.schema != "" {
				if n := b.count(t, `SELECT count(*) FROM t WHERE id <> 1 OR v <> 'a'`); n != 0 {
					t.Errorf("failed load left %d rows", n)
				}
			}
			b.clean(t)
		})
	}
}

// Timeouts and cancels: the server's statement_timeout, the request's own
// deadline while waiting for a pooled connection, and a client cancel.
func TestTimeoutsAndCancel(t *testing.T) {
	t.Parallel()
	t.Run("statement timeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.exec.StatementTimeout = 200 * time.Millisecond
		b.exec1(t, `CREATE TABLE t (id int, v text)`)
		b.exec1(t, `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$`)
		b.exec1(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow()`)
		_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: seqRows(t, 0, 2)})
		st := wantCode(t, err, codes.DeadlineExceeded, "load failed: canceling statement due to statement timeout")
		if ei := errorInfo(t, st); ei.Metadata["sqlstate"] != "57014" {
			t.Errorf("sqlstate %q", ei.Metadata["sqlstate"])
		}
		b.clean(t)
	})
	t.Run("deadline while waiting for a connection", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withMaxConns(1))
		b.exec1(t, `CREATE TABLE t (id int, v text)`)
		held, err := b.pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.client.Load(ctxTimeout(t, 300*time.Millisecond), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: seqRows(t, 0, 1)})
		wantCode(t, err, codes.DeadlineExceeded, "")
		held.Release()
		b.clean(t)
	})
	t.Run("pool wait runs out", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withMaxConns(1))
		b.exec.AcquireTimeout = 200 * time.Millisecond
		b.exec1(t, `CREATE TABLE t (id int, v text)`)
		held, err := b.pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: seqRows(t, 0, 1)})
		st := wantCode(t, err, codes.Unavailable, "database connection failed: no pooled connection free after waiting 200ms")
		if ei := errorInfo(t, st); ei.Reason != "DATABASE_CONNECTION_FAILED" {
			t.Errorf("reason %q", ei.Reason)
		}
		held.Release()
	})
	t.Run("client cancel", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.exec1(t, `CREATE TABLE t (id int, v text)`)
		b.exec1(t, `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$`)
		b.exec1(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow()`)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(500*time.Millisecond, cancel)
		_, err := b.client.Load(ctx, &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: seqRows(t, 0, 1000)})
		wantCode(t, err, codes.Canceled, "")
		b.clean(t)
		if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
			t.Errorf("cancelled load left %d rows", n)
		}
	})
}

// Connect failures are UNAVAILABLE with the driver's text, and write nothing.
func TestConnectFailures(t *testing.T) {
	t.Parallel()
	live := setup(t)
	live.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	u, err := url.Parse(live.url)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", "wrong-secret")
	wrongPassword := u.String()
	cases := map[string]*bundle{
		"closed port":    setup(t, withURL("postgres://postgres:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")),
		"wrong password": setup(t, withURL(wrongPassword)),
		"no database":    setup(t, withNoDB()),
	}
	for name, b := range cases {
		_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: seqRows(t, 0, 3)})
		st := wantCode(t, err, codes.Unavailable, "database connection failed: ")
		if ei := errorInfo(t, st); ei.Reason != "DATABASE_CONNECTION_FAILED" {
			t.Errorf("%s: reason %q", name, ei.Reason)
		}
		if strings.Contains(st.Message(), "wrong-secret") || strings.Contains(st.Message(), "s3cret") {
			t.Errorf("%s: message leaks the password: %s", name, st.Message())
		}
		t.Logf("%s: %s", name, st.Message())
	}
	if n := live.count(t, `SELECT count(*) FROM t`); n != 0 {
		t.Errorf("connect failures wrote %d rows", n)
	}
}

// A pooled connection whose backend died while idle is replaced, not
// reported: the load succeeds.
func TestStaleConnectionReplaced(t *testing.T) {
	t.Parallel()
	e := testenv.New(t, cluster, testenv.MaxConns(1), testenv.ServicePool(testenv.NeverPing))
	b := &bundle{url: e.URL, pool: e.Pool, admin: e.Admin, client: e.Client, exec: e.Exec}
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	load := func(first int) error {
		_, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: seqRows(t, first, 2)})
		return err
	}
	if err := load(0); err != nil {
		t.Fatal(err)
	}
	// Kill the pool's idle backend. The pool does not ping it (NeverPing:
	// the next load as if within pgxpool's one-second no-ping window), so
	// only BEGIN finds the corpse.
	b.exec1(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ''`)
	testenv.WaitUntil(t, 20*time.Second, "the service's backend gone", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ''`) == 0
	})
	if err := load(10); err != nil {
		t.Fatalf("load after its pooled backend died: %v", err)
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 4 {
		t.Errorf("table has %d rows, want 4", n)
	}
}
