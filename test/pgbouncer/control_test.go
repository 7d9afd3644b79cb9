package pgbouncer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The control experiment: the PgBouncer of these tests really pools by
// transaction, and a named prepared statement — what pgx's default exec mode
// makes of a query with arguments — breaks there, since PgBouncer 1.18 does
// not track prepared statements: two clients sharing a server connection
// prepare the same name on it. loadsvc's loads prepare nothing (the simple
// protocol and a text COPY), which is why the other tests pass without
// default_query_exec_mode=exec.
func TestNamedStatementsBreakBehindBouncer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A query text of its own, so that -count=N runs do not meet the
	// statement an earlier run left prepared on the server connection.
	sql := fmt.Sprintf("SELECT $1::int AS probe_%d", time.Now().UnixNano())
	url := bouncerURL(t, cluster.URL(singleDB))
	a, b := connect(t, url), connect(t, url)
	var n int
	if err := a.QueryRow(ctx, sql, 1).Scan(&n); err != nil {
		t.Fatalf("first client: %v", err)
	}
	err := b.QueryRow(ctx, sql, 2).Scan(&n)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P05" {
		t.Fatalf("second client on the same server connection: got %v, want 42P05 prepared statement already exists", err)
	}
	t.Logf("as expected, behind PgBouncer 1.18 pgx's default exec mode fails: %v", err)

	c := connect(t, bouncerURL(t, cluster.URL(singleDB), "default_query_exec_mode=exec"))
	if err := c.QueryRow(ctx, sql, 3).Scan(&n); err != nil || n != 3 {
		t.Fatalf("exec mode: %v", err)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
