package faults_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// dbState is what a fault may leave behind in the test database.
type dbState struct {
	IdleInTx  int64 // sessions (anyone's) idle in transaction
	Busy      int64 // service sessions still running something
	Temp      int64 // TEMP tables
	Advisory  int64 // advisory locks held in this database
	Acquired  int32 // connections the service's pool has handed out
	TotalPool int32
}

func (s dbState) clean() bool {
	return s.IdleInTx == 0 && s.Busy == 0 && s.Temp == 0 && s.Advisory == 0 && s.Acquired == 0
}

func (e *env) state(ctx context.Context) (dbState, error) {
	var s dbState
	err := e.admin.QueryRow(ctx, `SELECT
  (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'),
  (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND state <> 'idle'),
  (SELECT count(*) FROM pg_class WHERE relpersistence = 't'),
  (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`,
		svcApp).Scan(&s.IdleInTx, &s.Busy, &s.Temp, &s.Advisory)
	st := e.pool.Stat()
	s.Acquired, s.TotalPool = st.AcquiredConns(), st.TotalConns()
	return s, err
}

// checkClean is the check after every scenario: within a generous bound no
// session is idle in transaction, no service session is still working, no
// TEMP table and no advisory lock is left, the pool has every connection
// back; every pooled session is clean (no transaction, no leaked SET); and
// the pool serves the next load.
func (e *env) checkClean(t *testing.T) {
	t.Helper()
	e.waitClean(t)
	e.checkSessions(t)
	e.probe(t)
}

func (e *env) waitClean(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := e.state(ctx)
		cancel()
		if err == nil && s.clean() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not clean 20s after the fault: %+v (%v)", s, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// checkSessions looks into every idle pooled session of the service: no
// open transaction, statement_timeout and lock_timeout at the server's
// default (a SET LOCAL must not outlive its load). A session whose backend
// is gone is left for the pool to replace.
func (e *env) checkSessions(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range e.pool.AcquireAllIdle(ctx) {
		func() {
			defer c.Release()
			if tx := c.Conn().PgConn().TxStatus(); tx != 'I' {
				t.Errorf("pooled session in transaction state %q", tx)
				return
			}
			st, lt, err := sessionTimeouts(ctx, c)
			if err != nil {
				c.Conn().Close(ctx) // dead: the pool replaces it, whatever Close says
				return
			}
			if st != "0" || lt != "0" {
				t.Errorf("pooled session (pid %d) has statement_timeout=%s lock_timeout=%s, want the defaults 0 and 0", c.Conn().PgConn().PID(), st, lt)
			}
		}()
	}
}

func sessionTimeouts(ctx context.Context, c *pgxpool.Conn) (statement, lock string, err error) {
	err = c.QueryRow(ctx, `SELECT current_setting('statement_timeout'), current_setting('lock_timeout')`).Scan(&statement, &lock)
	return statement, lock, err
}

// probe is "the pool serves the next load": a small delete_insert load
// through the service succeeds and lands.
func (e *env) probe(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := int(time.Now().UnixNano() % 1_000_000)
	resp, err := e.client.Load(ctx, &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "faults_probe", Pk: []string{"id"}},
		Rows:   jsonRows(t, []int{1, 2}, fmt.Sprint("probe", n)),
	})
	if err != nil {
		t.Fatalf("the next load after the fault failed: %v", err)
	}
	if resp.Inserted != 2 {
		t.Fatalf("probe load: %v", resp)
	}
	if got, want := e.content(t, "faults_probe"), fmt.Sprintf("1=probe%d,2=probe%d", n, n); got != want {
		t.Fatalf("probe table %q, want %q", got, want)
	}
	e.waitClean(t)
}

// within fails unless d <= max.
func within(t *testing.T, what string, d, max time.Duration) {
	t.Helper()
	if d > max {
		t.Errorf("%s took %v, want at most %v", what, d.Round(time.Millisecond), max)
	}
}

var errTimeout = errors.New("timed out")

// poll calls f every 25ms until it returns nil or timeout passes.
func poll(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v: %v", errTimeout, timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
