package pgbouncer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// slowTable inserts take 5ms a row: a load of 4,000 rows runs 20s unless
// its statement is cancelled.
const slowTable = `CREATE TABLE s (id int PRIMARY KEY, a text, b int);
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN NEW; END $$;
CREATE TRIGGER slow BEFORE INSERT ON s FOR EACH ROW EXECUTE FUNCTION slow();`

// Cancelled loads — requests whose deadline runs out mid-COPY, several at
// once, and a stream the client cancels — write nothing, PgBouncer forwards
// each cancel request to the right backend (clean fails if a backend keeps
// running: the loads would take 20s), PgBouncer stays up, and the next load
// works.
//
// It is the regression test for PgBouncer 1.18.0 (Debian 12) crashing on
// the first cancel request that reached a running load (pgbouncer#801):
// pgx's own context watcher closed the cancel-request connection before
// PgBouncer had forwarded the cancel; pgexec.ConfigurePool's handler waits
// for it.
func TestCancelledLoads(t *testing.T) {
	t.Parallel()

	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v)
		e.exec(t, slowTable)
		var wg sync.WaitGroup
		for g := range serverPoolSize {
			table := fmt.Sprintf("s%d", g)
			e.exec(t, fmt.Sprintf(`CREATE TABLE %s (LIKE s); CREATE TRIGGER slow BEFORE INSERT ON %[1]s FOR EACH ROW EXECUTE FUNCTION slow()`, table))
			wg.Go(func() { e.cancelLoads(t, table, 3) })
		}
		wg.Wait()
		e.cancelStream(t)
		e.clean(t)
		if c, err := net.Dial("tcp", pgb.addr()); err != nil {
			t.Fatalf("PgBouncer is gone after cancelled loads: %v", err)
		} else {
			c.Close()
		}
		if n := e.count(t, `SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM s0) + (SELECT count(*) FROM s1) + (SELECT count(*) FROM s2) + (SELECT count(*) FROM s3)`); n != 0 {
			t.Fatalf("cancelled loads left %d rows", n)
		}
		resp, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "s", Pk: []string{"id"}}, Rows: seqRows(t, 0, 10, "x")})
		if err != nil || resp.Inserted != 10 {
			t.Fatalf("the load after cancelled ones: %v %v", resp, err)
		}
	})
}

// cancelLoads runs n loads into table, each cancelled by the client once
// its COPY runs on the server, and checks they fail CANCELLED.
func (e *env) cancelLoads(t *testing.T, table string, n int) {
	req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: table, Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: seqRows(t, 0, 4000, "x")}
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		waited := make(chan error, 1)
		go func() {
			waited <- e.waitCopies(ctx, table, 1)
			cancel()
		}()
		_, err := e.client.Load(ctx, req)
		cancel()
		if werr := <-waited; werr != nil && !errors.Is(werr, context.Canceled) {
			t.Errorf("%s, load %d: %v", table, i, werr)
		}
		if status.Code(err) != codes.Canceled {
			t.Errorf("%s, load %d: got %v, want CANCELLED", table, i, err)
		}
		if err := e.waitCopies(context.Background(), table, 0); err != nil {
			t.Errorf("%s, load %d: the cancelled COPY goes on: %v", table, i, err)
		}
	}
}

// waitCopies waits until want backends run a COPY into table (a simple
// name: the loader quotes it).
func (e *env) waitCopies(ctx context.Context, table string, want int64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		var n int64
		err := e.direct.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY "' || $1 || '" %'`, table).Scan(&n)
		switch {
		case err != nil:
			return err
		case n == want:
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cancelStream sends part of a stream, then cancels it.
func (e *env) cancelStream(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := e.client.LoadStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&loadsvcv1.LoadStreamRequest{Config: &loadsvcv1.LoadConfig{Table: "s", Pk: []string{"id"}, ChunkSize: 50}}); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := st.Send(typedIDs(i*100, 100)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitUntil(t, 20*time.Second, "the server copied rows and waits for more", func() bool {
		return e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND pid <> pg_backend_pid() AND state = 'idle in transaction' AND query LIKE 'COPY %'`) == 1
	})
	cancel()
	_, err = st.CloseAndRecv()
	wantCode(t, err, codes.Canceled, "")
}

// SET LOCAL statement_timeout reaches the load's backend through PgBouncer,
// and ends with the transaction: no server connection keeps it.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v, func(x *pgexec.Executor) { x.StatementTimeout = 300 * time.Millisecond })
		e.exec(t, slowTable)
		_, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "s", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: seqRows(t, 0, 4000, "x")})
		wantCode(t, err, codes.DeadlineExceeded, "load failed: canceling statement due to statement timeout")
		e.clean(t)
		if n := e.count(t, `SELECT count(*) FROM s`); n != 0 {
			t.Fatalf("the timed-out load left %d rows", n)
		}
		e.checkServerSettings(t, "statement_timeout", "0")
	})
}

// checkServerSettings opens a transaction on each of PgBouncer's server
// connections to the database at once (as many client transactions as it
// has server connections) and checks that name is want on every one.
func (e *env) checkServerSettings(t *testing.T, name, want string) {
	t.Helper()
	ctx := context.Background()
	conns := make([]*pgxpool.Conn, 0, serverPoolSize)
	defer func() {
		for _, c := range conns {
			if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
				t.Errorf("ending a check's transaction: %v", err)
			}
			c.Release()
		}
	}()
	for range serverPoolSize {
		conn, err := e.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		var got string
		if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SHOW "+name, pgx.QueryExecModeSimpleProtocol).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("a server connection has %s = %q, want %q", name, got, want)
		}
	}
}
