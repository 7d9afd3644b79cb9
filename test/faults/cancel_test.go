package faults_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// The client cancels, or its deadline passes, mid-load: CANCELLED /
// DEADLINE_EXCEEDED (as the server itself reports it), nothing written, the
// backend stops working within seconds, and the session goes back to the
// pool clean (or not at all).
func TestClientCancelOrDeadlineMidLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		mode     loadsvcv1.Mode
		stream   bool
		deadline bool   // the client's deadline passes instead of a cancel
		during   string // where the load is when it ends
	}{
		{name: "cancel unary append in COPY", mode: loadsvcv1.Mode_MODE_APPEND, during: "COPY%"},
		{name: "deadline unary delete_insert in INSERT", mode: loadsvcv1.Mode_MODE_DELETE_INSERT, deadline: true, during: "INSERT%"},
		{name: "cancel stream delete_insert in COPY", mode: loadsvcv1.Mode_MODE_DELETE_INSERT, stream: true, during: "COPY%"},
		{name: "deadline stream upsert in COPY", mode: loadsvcv1.Mode_MODE_UPSERT, stream: true, deadline: true, during: "COPY%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, maxConns(2))
			e.execSQL(t, `CREATE TABLE t (id int, v text)`)
			e.execSQL(t, `INSERT INTO t SELECT g, 'old' FROM generate_series(0, 9) g`)
			e.execSQL(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION faults_slow('0.01')`)
			before := e.content(t, "t")
			cfg := &loadsvcv1.LoadConfig{Table: "t", Mode: tc.mode, Pk: []string{"id"}}
			if tc.mode == loadsvcv1.Mode_MODE_APPEND {
				cfg.Pk = nil
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			want := codes.Canceled
			if tc.deadline {
				// Long enough to reach the slow statement, short enough to
				// end inside it.
				ctx, cancel = context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				want = codes.DeadlineExceeded
			}
			var err error
			var ended time.Time
			if tc.stream {
				s := e.slowStream(ctx, t, cfg, 5, "new", 20*time.Millisecond)
				e.waitBackend(t, tc.during)
				if !tc.deadline {
					s.waitSent(t, 3)
					cancel()
				}
				_, err = s.result(t)
			} else {
				a := e.startLoad(ctx, &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, seq(5, 500), "new")})
				e.waitBackend(t, tc.during)
				if !tc.deadline {
					cancel()
				}
				_, err = a.result(t)
			}
			ended = time.Now()
			wantCode(t, err, want, "")
			// A passing deadline reaches the server twice: its own timer
			// (grpc-timeout) and the client's RST_STREAM, which can arrive
			// first and then ends the server's context as cancelled.
			if c := e.obs.code(t, "t", 1); c != want && !(tc.deadline && c == codes.Canceled) {
				t.Errorf("the server reported %s, want %s", c, want)
			} else if c != want {
				t.Logf("the server reported %s: the client's RST_STREAM beat the server's own deadline", c)
			}
			// The backend's work stops within seconds.
			if err := poll(10*time.Second, func() error { return e.busy(t) }); err != nil {
				t.Fatalf("the backend still works after the load ended: %v", err)
			}
			within(t, "the backend stopping after the client gave up", time.Since(ended), 5*time.Second)
			e.wantContent(t, "t", before)
			e.checkClean(t)
		})
	}
}

// Server-side timeouts bound loads whose client set no deadline:
// lock_timeout against a table another session holds ACCESS EXCLUSIVE, and
// statement_timeout against a slow statement, both DEADLINE_EXCEEDED
// quickly; the SET LOCAL that applied them does not outlive the load on the
// pooled session, after a failure or a success.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	t.Run("lock_timeout", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, maxConns(1), lockTimeout(300*time.Millisecond), statementTimeout(time.Minute))
		e.execSQL(t, `CREATE TABLE t (id int, v text)`)
		e.execSQL(t, `INSERT INTO t VALUES (1, 'old')`)
		pid := e.pooledSession(t, "")

		// Another session holds the table ACCESS EXCLUSIVE in an open
		// transaction.
		holder, err := e.admin.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := holder.Exec(context.Background(), `LOCK TABLE t IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, []int{1, 2}, "new")})
		elapsed := time.Since(start)
		if err := holder.Rollback(context.Background()); err != nil {
			t.Fatalf("ending the lock holder's transaction: %v", err)
		}
		st := wantCode(t, err, codes.DeadlineExceeded, "load failed: canceling statement due to lock timeout")
		if sqlstate(st.Details()) != "55P03" {
			t.Errorf("details %v, want sqlstate 55P03", st.Details())
		}
		within(t, "a load against a locked table with lock_timeout=300ms", elapsed, 3*time.Second)
		e.wantContent(t, "t", "1=old")
		e.pooledSession(t, pid)

		if _, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, []int{1, 2}, "new")}); err != nil {
			t.Fatal(err)
		}
		e.wantContent(t, "t", "1=new,2=new")
		e.pooledSession(t, pid)
		e.checkClean(t)
	})
	t.Run("statement_timeout", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, maxConns(1), statementTimeout(300*time.Millisecond), lockTimeout(time.Minute))
		e.execSQL(t, `CREATE TABLE t (id int, v text)`)
		e.execSQL(t, `INSERT INTO t VALUES (1, 'old')`)
		e.execSQL(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION faults_slow('0.05')`)
		pid := e.pooledSession(t, "")
		start := time.Now()
		_, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, seq(1, 100), "new")})
		elapsed := time.Since(start)
		st := wantCode(t, err, codes.DeadlineExceeded, "load failed: canceling statement due to statement timeout")
		if sqlstate(st.Details()) != "57014" {
			t.Errorf("details %v, want sqlstate 57014", st.Details())
		}
		within(t, "a 5s load with statement_timeout=300ms", elapsed, 3*time.Second)
		e.wantContent(t, "t", "1=old")
		e.pooledSession(t, pid)

		e.execSQL(t, `DROP TRIGGER slow ON t`)
		if _, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, []int{1, 2}, "new")}); err != nil {
			t.Fatal(err)
		}
		e.wantContent(t, "t", "1=new,2=new")
		e.pooledSession(t, pid)
		e.checkClean(t)
	})
}

// pooledSession takes the service's (only) pooled session and checks it
// is clean: no transaction, statement_timeout and lock_timeout at their
// defaults. With wantPID it must be that same session (the load gave it
// back rather than dropping it). It returns the session's backend pid.
func (e *env) pooledSession(t *testing.T, wantPID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	pid := ident(int(c.Conn().PgConn().PID()))
	if wantPID != "" && pid != wantPID {
		t.Errorf("pooled session is backend %s, want the same %s as before the load", pid, wantPID)
	}
	if tx := c.Conn().PgConn().TxStatus(); tx != 'I' {
		t.Errorf("pooled session in transaction state %q", tx)
	}
	st, lt, err := sessionTimeouts(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if st != "0" || lt != "0" {
		t.Errorf("pooled session has statement_timeout=%q lock_timeout=%q after the load, want the defaults \"0\" (SET LOCAL leaked)", st, lt)
	}
	return pid
}

// busy is nil once no service session is running anything.
func (e *env) busy(t *testing.T) error {
	n := e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND state <> 'idle'`, svcApp)
	if n > 0 {
		return errBusy(n)
	}
	return nil
}

type errBusy int64

func (n errBusy) Error() string { return ident(int(n)) + " service sessions still busy" }

func sqlstate(details []any) string {
	for _, d := range details {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.Metadata["sqlstate"]
		}
	}
	return ""
}
