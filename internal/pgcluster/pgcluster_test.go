package pgcluster_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loadsvc/loadsvc/internal/pgcluster"
	"github.com/loadsvc/loadsvc/internal/pgtest"
)

// cluster is the tests' own: pgtest, which is built on this package, runs
// them as every other package's tests.
var cluster *pgtest.Cluster

// TestMain runs the tests against one cluster, closes it, and checks for
// goroutines left running.
func TestMain(m *testing.M) { os.Exit(pgtest.MainWithLeakCheck(m, &cluster)) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func dbName(t *testing.T, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

func TestClusterSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := connect(t, cluster.URL("postgres"))

	want := map[string]string{
		"fsync":               "off",
		"synchronous_commit":  "off",
		"full_page_writes":    "off",
		"max_connections":     "200",
		"listen_addresses":    "127.0.0.1",
		"port":                strconv.Itoa(cluster.Port()),
		"password_encryption": "scram-sha-256",
		"server_encoding":     "UTF8",
	}
	for name, w := range want {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	var user string
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_user, current_setting('server_version_num')::int").Scan(&user, &version); err != nil {
		t.Fatal(err)
	}
	if user != "postgres" || version < 150000 {
		t.Errorf("user %q version %d, want postgres on 15 or newer", user, version)
	}
	if !strings.Contains(cluster.URL("x"), ":"+cluster.Password()+"@127.0.0.1:") {
		t.Errorf("URL %q does not carry the password", cluster.URL("x"))
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	t.Parallel()
	url := strings.Replace(cluster.URL("postgres"), cluster.Password(), "wrong", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err == nil {
		conn.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("err = %v, want SQLSTATE 28P01 (invalid_password)", err)
	}
}

func TestPsqlFromBinDir(t *testing.T) {
	t.Parallel()
	psql := filepath.Join(cluster.BinDir(), "psql")
	out, err := exec.Command(psql, "-X", "-tA", "-c", "SELECT 40 + 2", cluster.URL("postgres")).CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "42" {
		t.Fatalf("psql said %q", out)
	}
}

// TestExecTemplate is not parallel: it changes the template before the
// parallel tests create their databases.
func TestExecTemplate(t *testing.T) {
	ctx := context.Background()
	if err := cluster.ExecTemplate(ctx, "CREATE TABLE template_marker (id int); INSERT INTO template_marker VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, cluster.NewDatabase(t))
	var id int
	if err := conn.QueryRow(ctx, "SELECT id FROM template_marker").Scan(&id); err != nil || id != 7 {
		t.Fatalf("template_marker: id %d, err %v", id, err)
	}
}

func TestCreateDatabaseIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	urlA, urlB := cluster.NewDatabase(t), cluster.NewDatabase(t)
	if dbName(t, urlA) == dbName(t, urlB) {
		t.Fatalf("same database twice: %s", urlA)
	}
	a, b := connect(t, urlA), connect(t, urlB)
	if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (x int); INSERT INTO only_in_a VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var found bool
	if err := b.QueryRow(ctx, "SELECT to_regclass('public.only_in_a') IS NOT NULL").Scan(&found); err != nil {
		t.Fatal(err)
	}
	if found {
		t.Fatal("a table created in one database is visible in another")
	}
}

func TestStopStartAgainRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	began := time.Now()
	c, err := pgcluster.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second cluster started in %v", time.Since(began).Round(time.Millisecond))
	defer func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}()
	port := c.Port()
	url := (&pgtest.Cluster{Cluster: c}).NewDatabase(t)

	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	count := func() int {
		t.Helper()
		conn := connect(t, url)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		return n
	}
	if err := exec("CREATE TABLE kept (x int); INSERT INTO kept VALUES (1), (2)"); err != nil {
		t.Fatal(err)
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Fatal("Running after Stop")
	}
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("connected to a stopped cluster")
	}
	if err := c.StartAgain(); err != nil {
		t.Fatal(err)
	}
	if c.Port() != port {
		t.Fatalf("port %d after StartAgain, was %d", c.Port(), port)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d rows after StartAgain, want 2", n)
	}

	// Restart terminates sessions that are open.
	held := connect(t, url)
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("a session survived Restart")
	}
	if n := count(); n != 2 {
		t.Fatalf("%d rows after Restart, want 2", n)
	}

	dataDir := c.DataDir()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("data directory still there after Close: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		conn.Close()
		t.Fatal("something still listens on the closed cluster's port")
	}
}

func TestDropDatabaseWithOpenSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name, err := cluster.CreateDatabase(ctx, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(name, "testdropdatabasewithopensession") {
		t.Errorf("database name %q is not made from the hint", name)
	}
	held := connect(t, cluster.URL(name))
	if err := cluster.DropDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("a session survived DropDatabase")
	}
	var left int
	admin := connect(t, cluster.URL("postgres"))
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("database %s still exists after DropDatabase", name)
	}
	if err := cluster.DropDatabase(ctx, name); err != nil {
		t.Fatalf("dropping a dropped database: %v", err)
	}
}

// Start sweeps away the directories of clusters whose process is gone, and
// only those: a directory whose owner is not written yet belongs to a
// process starting a cluster at this moment (fuzz workers start theirs
// together), and one whose owner is alive is in use.
func TestStartSweepsOnlyDeadOwners(t *testing.T) {
	parent, err := os.MkdirTemp("", "sweep-") // not t.TempDir: the postgres OS user must reach into it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGCLUSTER_DIR", parent)
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{
		"pgcluster-dead":     strconv.Itoa(done.Process.Pid),
		"pgcluster-live":     strconv.Itoa(os.Getpid()),
		"pgcluster-starting": "", // created, owner not written yet
	}
	for dir, owner := range owners {
		if err := os.MkdirAll(filepath.Join(parent, dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(parent, dir, "owner.pid"), []byte(owner), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	c, err := pgcluster.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if owner, err := os.ReadFile(filepath.Join(c.Dir(), "owner.pid")); err != nil || string(owner) != strconv.Itoa(os.Getpid()) {
		t.Errorf("the new cluster's owner.pid holds %q (%v), want this process, %d", owner, err, os.Getpid())
	}
	for dir := range owners {
		_, err := os.Stat(filepath.Join(parent, dir))
		if gone, want := errors.Is(err, os.ErrNotExist), dir == "pgcluster-dead"; gone != want {
			t.Errorf("%s removed: %v, want %v (%v)", dir, gone, want, err)
		}
	}
}
