package pgexec_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/testenv"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// loadError asserts err is a *loader.LoadError and returns it.
func loadError(t *testing.T, err error) *loader.LoadError {
	t.Helper()
	var le *loader.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T), want *loader.LoadError", err, err)
	}
	return le
}

// pgError asserts err is a *loader.LoadError wrapping a *pgconn.PgError of
// SQLSTATE code, with the session not lost, and returns the PgError.
func pgError(t *testing.T, err error, code string) *pgconn.PgError {
	t.Helper()
	le := loadError(t, err)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("LoadError %v wraps %T, want *pgconn.PgError", err, le.Err)
	}
	if pe.Code != code {
		t.Errorf("SQLSTATE %s (%s), want %s", pe.Code, pe.Message, code)
	}
	if le.Kind == loader.KindConnectionLost || le.SQLState != code {
		t.Errorf("LoadError kind %d, SQLSTATE %q for %s: want a live session and the SQLSTATE", le.Kind, le.SQLState, pe.Code)
	}
	return pe
}

func asUnknownColumn(t *testing.T, err error) *loader.UnknownColumnError {
	t.Helper()
	var uc *loader.UnknownColumnError
	if !errors.As(err, &uc) {
		t.Fatalf("error %v (%T), want *loader.UnknownColumnError", err, err)
	}
	var le *loader.LoadError
	if errors.As(err, &le) {
		t.Errorf("UnknownColumnError wrapped in a LoadError")
	}
	return uc
}

func TestNoDatabase(t *testing.T) {
	t.Parallel()
	e := &pgexec.Executor{}
	plan := testrows.Plan(t, loader.Config{Table: "t", Keys: []string{"id"}}, []row{{"id": 1}})
	res, err := e.Run(context.Background(), plan.Config, loader.OneBatch(plan.Batch))
	var ce *loader.ConnectError
	if !errors.As(err, &ce) || !errors.Is(err, loader.ErrNoDatabase) {
		t.Fatalf("Run with no pool: %v (%T), want a ConnectError for ErrNoDatabase", err, err)
	}
	if res != nil && (res.Inserted != 0 || res.Deleted != 0) {
		t.Errorf("result of a failed connect counts rows: %+v", res)
	}
	// No rows: no connection needed, no error.
	res, err = e.Run(context.Background(), loader.Config{Table: "t", Keys: []string{"id"}}, loader.OneBatch(testrows.Batch(t, nil)))
	if err != nil || res.Inserted != 0 || res.Batches != 0 {
		t.Errorf("Run of no rows with no pool = %+v, %v", res, err)
	}
}

func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pool := testenv.NewPool(t, "postgres://postgres:secret@127.0.0.1:"+strconv.Itoa(port)+"/db?sslmode=disable&connect_timeout=2", 1)
	e := &pgexec.Executor{Pool: pool, AcquireTimeout: 3 * time.Second}
	_, err = e.Run(ctxT(t), loader.Config{Table: "t", Mode: loader.ModeAppend}, loader.OneBatch(testrows.Batch(t, []row{{"id": 1}})))
	var ce *loader.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("Run on a closed port: %v (%T), want *loader.ConnectError", err, err)
	}
	var le *loader.LoadError
	if errors.As(err, &le) {
		t.Errorf("a connect failure is also a LoadError: %v", err)
	}
	if pool.Stat().AcquiredConns() != 0 {
		t.Errorf("acquired connections left: %d", pool.Stat().AcquiredConns())
	}
}

// TestLoadErrors runs loads that fail after the session was acquired and
// checks the error, that the table is as before, and that the pool's
// session is clean.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	const base = `CREATE TABLE t (id int PRIMARY KEY, u text UNIQUE, n int NOT NULL DEFAULT 0 CHECK (n >= 0), v text);
INSERT INTO t (id, u, v) VALUES (1, 'u1', 'old'), (2, 'u2', 'old')`
	const before = "(1,u1,0,old)\n(2,u2,0,old)"
	di := func(chunk int) loader.Config {
		return loader.Config{Table: "t", Keys: []string{"id"}, ChunkSize: chunk}
	}
	app := func(chunk int) loader.Config {
		return loader.Config{Table: "t", Mode: loader.ModeAppend, ChunkSize: chunk}
	}
	tests := []struct {
		name  string
		ddl   string
		cfg   loader.Config
		rows  []row
		check func(t *testing.T, err error)
	}{
		{name: "unknown column, delete_insert", cfg: di(1),
			rows: []row{{"id": 1, "v": "new"}, {"id": 3, "nope": 1}},
			check: func(t *testing.T, err error) {
				uc := asUnknownColumn(t, err)
				if uc.Column != "nope" || uc.Table != `"t"` {
					t.Errorf("UnknownColumnError = %+v, want column nope of \"t\"", uc)
				}
			}},
		{name: "unknown column, append", cfg: app(1),
			rows: []row{{"id": 3, "v": "new"}, {"id": 4, "年金": 1}},
			check: func(t *testing.T, err error) {
				if uc := asUnknownColumn(t, err); uc.Column != "年金" {
					t.Errorf("UnknownColumnError = %+v", uc)
				}
			}},
		{name: "missing table, delete_insert", cfg: loader.Config{Table: "nope", Keys: []string{"id"}},
			rows:  []row{{"id": 1}},
			check: func(t *testing.T, err error) { pgError(t, err, "42P01") }},
		{name: "missing table, append", cfg: loader.Config{Table: "nope", Mode: loader.ModeAppend},
			rows:  []row{{"id": 1}},
			check: func(t *testing.T, err error) { pgError(t, err, "42P01") }},
		{name: "missing schema", cfg: loader.Config{Schema: "nope", Table: "t", Mode: loader.ModeAppend},
			rows:  []row{{"id": 1}},
			check: func(t *testing.T, err error) { pgError(t, err, "3F000") }},
		{name: "primary key violated in a later chunk, append", cfg: app(2),
			rows: []row{{"id": 3}, {"id": 4}, {"id": 5}, {"id": 1}},
			check: func(t *testing.T, err error) {
				pe := pgError(t, err, "23505")
				if pe.ConstraintName != "t_pkey" || pe.TableName != "t" {
					t.Errorf("PgError constraint=%q table=%q, want t_pkey on t", pe.ConstraintName, pe.TableName)
				}
			}},
		{name: "unique column violated, delete_insert", cfg: di(2),
			rows: []row{{"id": 1, "u": "x"}, {"id": 3, "u": "u2"}},
			check: func(t *testing.T, err error) {
				if pe := pgError(t, err, "23505"); pe.ConstraintName != "t_u_key" {
					t.Errorf("constraint %q, want t_u_key", pe.ConstraintName)
				}
			}},
		// Keys differ as text but not as integers: the planner lets them
		// through and the table refuses them.
		{name: "keys equal as integers, delete_insert", cfg: di(1000),
			rows: []row{{"id": "3"}, {"id": "03"}},
			check: func(t *testing.T, err error) {
				if pe := pgError(t, err, "23505"); pe.ConstraintName != "t_pkey" {
					t.Errorf("constraint %q, want t_pkey", pe.ConstraintName)
				}
			}},
		{name: "not null violated", cfg: di(1000),
			rows: []row{{"id": 1, "n": 1}, {"id": 3, "n": nil}},
			check: func(t *testing.T, err error) {
				if pe := pgError(t, err, "23502"); pe.ColumnName != "n" {
					t.Errorf("column %q, want n", pe.ColumnName)
				}
			}},
		{name: "check violated, append", cfg: app(1000),
			rows:  []row{{"id": 3, "n": -1}},
			check: func(t *testing.T, err error) { pgError(t, err, "23514") }},
		{name: "bad integer text in COPY", cfg: di(1),
			rows:  []row{{"id": 1, "n": 5}, {"id": 3, "n": "abc"}},
			check: func(t *testing.T, err error) { pgError(t, err, "22P02") }},
		{name: "integer out of range", cfg: app(1000),
			rows:  []row{{"id": 3, "n": 1e10}},
			check: func(t *testing.T, err error) { pgError(t, err, "22003") }},
		{name: "NUL escaped into jsonb", ddl: `ALTER TABLE t ADD COLUMN j jsonb`, cfg: app(1000),
			rows:  []row{{"id": 3, "j": map[string]any{"s": "a\x00b"}}},
			check: func(t *testing.T, err error) { pgError(t, err, "22P05") }},
		{name: "generated key column cannot be matched", ddl: `ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (id * 2) STORED`,
			cfg:   loader.Config{Table: "t", Keys: []string{"g"}},
			rows:  []row{{"g": 2, "id": 1}},
			check: func(t *testing.T, err error) { testrows.Refused(t, err, "config.pk", -1, `"g"`) }},
		{name: "trigger raises", ddl: `CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN IF NEW.v = 'boom' THEN RAISE EXCEPTION 'boom' USING ERRCODE = 'P0001'; END IF; RETURN NEW; END$$;
CREATE TRIGGER boom BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION boom()`,
			cfg:   di(1),
			rows:  []row{{"id": 1, "v": "fine"}, {"id": 2, "v": "boom"}},
			check: func(t *testing.T, err error) { pgError(t, err, "P0001") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sql(t, base)
			if tt.ddl != "" {
				b.sql(t, tt.ddl)
			}
			want := dump(t, b.admin, "t")
			if tt.ddl == "" && want != before {
				t.Fatalf("seeded t = %q", want)
			}
			res, err := b.exec.Run(ctxT(t), tt.cfg, loader.OneBatch(testrows.Batch(t, tt.rows)))
			if err == nil {
				t.Fatalf("Run succeeded: %+v", res)
			}
			tt.check(t, err)
			if got := dump(t, b.admin, "t"); got != want {
				t.Errorf("a failed load changed t:\n%s\nwant\n%s", got, want)
			}
			b.assertClean(t)
			// The same pool still loads.
			b.load(t, loader.Config{Table: "t", Keys: []string{"id"}}, []row{{"id": 9, "v": "after"}})
			if n := b.count(t, "SELECT count(*) FROM t WHERE id = 9 AND v = 'after'"); n != 1 {
				t.Errorf("the load after the failure wrote %d rows, want 1", n)
			}
			b.assertClean(t)
		})
	}
}

// TestCancelAndTimeouts stops loads that hang in a trigger or wait on the
// table's lock: the error says why, nothing is written, the session is clean.
func TestCancelAndTimeouts(t *testing.T) {
	t.Parallel()
	const ddl = `CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t VALUES (1, 'old');
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN IF NEW.v = 'slow' THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END$$;
CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow()`
	for _, mode := range []loader.Mode{loader.ModeAppend, loader.ModeDeleteInsert} {
		cfg := loader.Config{Table: "t", Mode: mode, Keys: []string{"id"}, ChunkSize: 1}
		rows := []row{{"id": 2, "v": "fast"}, {"id": 3, "v": "slow"}}

		t.Run("cancel "+mode.String(), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sql(t, ddl)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sleeping := make(chan struct{})
			go func() { // cancel once the load's backend sleeps in the trigger
				defer close(sleeping)
				defer cancel()
				for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					var n int
					err := b.admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()").Scan(&n)
					if err != nil || n > 0 {
						return
					}
				}
			}()
			began := time.Now()
			_, err := b.exec.Run(ctx, cfg, loader.OneBatch(testrows.Batch(t, rows)))
			<-sleeping
			if d := time.Since(began); d > 10*time.Second {
				t.Errorf("cancelled load took %v", d)
			}
			le := loadError(t, err)
			if !errors.Is(le.Ctx, context.Canceled) {
				t.Errorf("LoadError.Ctx = %v, want context.Canceled (err %v)", le.Ctx, err)
			}
			if got := dump(t, b.admin, "t"); got != "(1,old)" {
				t.Errorf("t holds %q after a cancelled load", got)
			}
			b.assertClean(t)
		})

		t.Run("statement timeout "+mode.String(), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sql(t, ddl)
			e := &pgexec.Executor{Pool: b.pool, StatementTimeout: 300 * time.Millisecond}
			_, err := e.Run(ctxT(t), cfg, loader.OneBatch(testrows.Batch(t, rows)))
			pgError(t, err, "57014")
			if le := loadError(t, err); le.Ctx != nil {
				t.Errorf("LoadError.Ctx = %v for a server-side timeout", le.Ctx)
			}
			if got := dump(t, b.admin, "t"); got != "(1,old)" {
				t.Errorf("t holds %q after a timed-out load", got)
			}
			b.assertClean(t)
			// SET LOCAL ended with the transaction.
			conn, err := b.pool.Acquire(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			var st string
			if err := conn.QueryRow(ctxT(t), "SHOW statement_timeout").Scan(&st); err != nil || st != "0" {
				t.Errorf("statement_timeout after the load = %q, %v; want 0", st, err)
			}
			conn.Release()
		})
	}

	t.Run("lock timeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sql(t, ddl)
		// Another delete_insert of t holds the table's load lock.
		holder := holdLoadLock(t, b.admin, "t")
		e := &pgexec.Executor{Pool: b.pool, LockTimeout: 200 * time.Millisecond}
		_, err := e.Run(ctxT(t), loader.Config{Table: "t", Keys: []string{"id"}}, loader.OneBatch(testrows.Batch(t, []row{{"id": 1, "v": "new"}})))
		pgError(t, err, "55P03")
		holder()
		if got := dump(t, b.admin, "t"); got != "(1,old)" {
			t.Errorf("t holds %q after a load that could not lock", got)
		}
		b.assertClean(t)
	})
}

// holdLoadLock takes table's load lock in a transaction of its own and
// returns the function that ends it.
func holdLoadLock(t *testing.T, pool *pgxpool.Pool, table string) func() {
	t.Helper()
	tx, err := pool.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t), `SELECT pg_advisory_xact_lock(1818522486, $1::regclass::oid::int4)`, loader.QuoteIdent(table)); err != nil {
		t.Fatal(err)
	}
	done := false
	release := func() {
		if !done {
			done = true
			if err := tx.Rollback(context.Background()); err != nil {
				t.Errorf("releasing the load lock: %v", err)
			}
		}
	}
	t.Cleanup(release)
	return release
}

// TestGeneratedColumns loads rows that carry generated and identity
// columns: GENERATED ALWAYS ones are left out and reported, BY DEFAULT
// identities are written.
func TestGeneratedColumns(t *testing.T) {
	t.Parallel()
	for _, mode := range []loader.Mode{loader.ModeAppend, loader.ModeDeleteInsert} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sql(t, `CREATE TABLE g (
	id int PRIMARY KEY,
	a int,
	doubled int GENERATED ALWAYS AS (a * 2) STORED,
	ident bigint GENERATED ALWAYS AS IDENTITY,
	bydef bigint GENERATED BY DEFAULT AS IDENTITY
)`)
			res := b.load(t, loader.Config{Table: "g", Mode: mode, Keys: []string{"id"}, ChunkSize: 1}, []row{
				{"id": 1, "a": 10, "doubled": 999, "ident": 999, "bydef": 42},
				{"id": 2, "a": 20, "doubled": 999, "ident": 999, "bydef": 43},
			})
			if want := []string{"doubled", "ident"}; !reflect.DeepEqual(res.SkippedColumns, want) {
				t.Errorf("SkippedColumns = %q, want %q", res.SkippedColumns, want)
			}
			if res.Inserted != 2 || res.Batches != 2 {
				t.Errorf("Inserted=%d Batches=%d, want 2 2", res.Inserted, res.Batches)
			}
			if got := dump(t, b.admin, "g"); got != "(1,10,20,1,42)\n(2,20,40,2,43)" {
				t.Errorf("g holds\n%s\nwant\n(1,10,20,1,42)\n(2,20,40,2,43)", got)
			}
			// Rows without them: identities and generated values filled.
			res = b.load(t, loader.Config{Table: "g", Mode: mode, Keys: []string{"id"}}, []row{{"id": 3, "a": 1}})
			if len(res.SkippedColumns) != 0 {
				t.Errorf("SkippedColumns = %q for rows carrying none", res.SkippedColumns)
			}
			if got, _ := b.text(t, `SELECT g::text FROM g WHERE id = 3`); got != "(3,1,2,3,1)" {
				t.Errorf("row 3 = %s, want (3,1,2,3,1)", got)
			}
			b.assertClean(t)
		})
	}
}

// TestAcquireFailures covers the waits for a pooled connection: a request
// already cancelled, and a pool whose connections are all in use.
func TestAcquireFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, `CREATE TABLE t (id int PRIMARY KEY)`)
	plan := testrows.Plan(t, loader.Config{Table: "t", Keys: []string{"id"}}, []row{{"id": 1}})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.exec.Run(ctx, plan.Config, loader.OneBatch(plan.Batch))
	var ce *loader.ConnectError
	if !errors.As(err, &ce) || !errors.Is(ce.Ctx, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v (%T), want a ConnectError with Ctx context.Canceled", err, err)
	}

	// Both connections of the pool busy: the wait runs out.
	c1, err := b.pool.Acquire(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := b.pool.Acquire(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	e := &pgexec.Executor{Pool: b.pool, AcquireTimeout: 200 * time.Millisecond}
	_, err = e.Run(ctxT(t), plan.Config, loader.OneBatch(plan.Batch))
	ce = nil
	if !errors.As(err, &ce) || ce.Ctx != nil {
		t.Errorf("Run on a full pool: %v (%T), want a ConnectError without Ctx", err, err)
	} else if msg := err.Error(); !strings.Contains(msg, "pool_max_conns=2") {
		t.Errorf("error %q does not name the pool size", msg)
	}
	c1.Release()
	c2.Release()
	if n := b.count(t, "SELECT count(*) FROM t"); n != 0 {
		t.Errorf("%d rows written by failed loads", n)
	}
	b.assertClean(t)
	b.load(t, plan.Config, []row{{"id": 1}})
}

// TestStaleConnectionReplaced kills the backend of the pool's idle
// connection just before a load: the load gets a fresh session instead of
// failing. The pool does not ping the connection (NeverPing: the load as
// if within pgxpool's one-second no-ping window), so only BEGIN finds the
// backend dead.
func TestStaleConnectionReplaced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.pool = testenv.NewPoolWith(t, b.url, 2, testenv.NeverPing)
	b.exec.Pool = b.pool
	b.sql(t, `CREATE TABLE t (id int PRIMARY KEY)`)
	conn, err := b.pool.Acquire(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	pid := conn.Conn().PgConn().PID()
	conn.Release()
	if ok, _ := b.text(t, `SELECT pg_terminate_backend($1)::text`, pid); ok != "true" {
		t.Fatalf("pg_terminate_backend(%d) = %s", pid, ok)
	}
	testenv.WaitUntil(t, 20*time.Second, "the killed backend gone", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid) == 0
	})
	res := b.load(t, loader.Config{Table: "t", Keys: []string{"id"}}, []row{{"id": 1}, {"id": 2}})
	if res.Inserted != 2 || b.count(t, "SELECT count(*) FROM t") != 2 {
		t.Errorf("Inserted = %d; table has %d rows", res.Inserted, b.count(t, "SELECT count(*) FROM t"))
	}
	b.assertClean(t)
}
