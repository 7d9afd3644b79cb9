// Package pgcluster owns throwaway PostgreSQL clusters: initialising one
// into a fresh temporary directory, starting, stopping and restarting its
// postmaster, copying databases from its template, and removing it all.
// cmd/loadbench runs against one; internal/pgtest adds the helpers tests
// use (a cluster per test binary, a database per test).
//
// A Cluster is a real PostgreSQL server (the Debian packages under
// /usr/lib/postgresql/<version>/bin, the newest one found, or the directory
// named by $PG_BINDIR) initialised into a fresh temporary directory (under
// $PGCLUSTER_DIR if set, else /dev/shm when it is a roomy tmpfs, else
// $TMPDIR) and listening on a free 127.0.0.1 port plus a private unix socket
// directory. It is tuned for throughput over safety (fsync,
// synchronous_commit and full_page_writes off) and must never hold data
// anyone cares about.
//
//	c, err := pgcluster.Start()
//	if err != nil { ... }
//	defer c.Close()
//	name, err := c.CreateDatabase(ctx, "bench") // a copy of the template
//	url := c.URL(name)
//
// # Users and processes
//
// PostgreSQL refuses to run as root. When the process runs as root, initdb
// and postgres are started as the "postgres" OS user (setuid in the forked
// child through SysProcAttr.Credential, the same thing runuser does) and the
// cluster's directories are chowned to it.
//
// The postmaster is started directly (not through pg_ctl) as a child of the
// calling process with a parent-death signal (Pdeathsig = SIGQUIT,
// PostgreSQL's "immediate shutdown"), so that a process that panics, times
// out or is killed takes its cluster with it. Linux delivers that signal
// when the creating thread ends, so every postmaster of a Cluster is forked
// from one goroutine locked to its OS thread for the Cluster's lifetime.
// Stop and Restart send SIGINT ("fast shutdown", what pg_ctl stop -m fast
// sends) and wait for the postmaster to exit; Close sends SIGQUIT and
// removes the directory. Directories left behind by a process that died are
// removed by the next Start.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	superuser    = "postgres"
	templateName = "pgcluster_template"
	dirPrefix    = "pgcluster-"

	startTimeout = 60 * time.Second
	stopTimeout  = 60 * time.Second
	adminTimeout = 60 * time.Second
)

// Cluster is a running (or stopped) throwaway PostgreSQL cluster.
// Its methods are safe for concurrent use.
type Cluster struct {
	binDir   string
	base     string // temporary directory holding everything below
	dataDir  string
	sockDir  string
	logPath  string
	password string
	port     int
	cred     *syscall.Credential // nil unless running as root
	env      []string
	launch   *launcher

	mu     sync.Mutex // guards proc and closed
	proc   *process   // the running postmaster; nil when stopped
	closed bool

	dbMu sync.Mutex // serialises use of the template database
	seq  atomic.Int64
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, valid after done
}

// Start initialises a new cluster in a fresh temporary directory, starts it
// on a free 127.0.0.1 port and waits until it accepts connections. It also
// creates the template database CreateDatabase copies.
func Start() (*Cluster, error) {
	binDir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	sweepStale()

	base, err := os.MkdirTemp(parentDir(), dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{
		binDir:   binDir,
		base:     base,
		dataDir:  filepath.Join(base, "data"),
		sockDir:  filepath.Join(base, "sock"),
		logPath:  filepath.Join(base, "postgres.log"),
		password: randomHex(16),
		cred:     cred,
		env:      childEnv(),
		launch:   newLauncher(),
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	if err := c.prepare(); err != nil {
		return nil, err
	}
	if err := c.initdb(); err != nil {
		return nil, err
	}

	// A free port found now can be taken by someone else before postgres
	// binds it (parallel test binaries do exactly that); pick another then.
	for attempt := 1; ; attempt++ {
		if c.port, err = FreePort(); err != nil {
			return nil, fmt.Errorf("pgcluster: find a free port: %w", err)
		}
		if err := c.writePortConf(); err != nil {
			return nil, err
		}
		err = c.startProcess()
		if err == nil {
			break
		}
		if attempt == 5 || !strings.Contains(err.Error(), "could not bind") {
			return nil, err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := c.adminExec(ctx, "postgres", "CREATE DATABASE "+quoteIdent(templateName)); err != nil {
		return nil, fmt.Errorf("pgcluster: create template database: %w", err)
	}
	ok = true
	return c, nil
}

// URL returns a connection URL for database on this cluster, as the
// superuser "postgres" over TCP with password authentication.
func (c *Cluster) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, c.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the TCP port the cluster listens on at 127.0.0.1. It stays the
// same across Stop/StartAgain and Restart.
func (c *Cluster) Port() int { return c.port }

// Password is the password of the superuser "postgres".
func (c *Cluster) Password() string { return c.password }

// BinDir is the directory holding the PostgreSQL binaries in use (postgres,
// pg_ctl, psql, ...).
func (c *Cluster) BinDir() string { return c.binDir }

// Dir is the temporary directory holding everything of the cluster (data,
// socket and log); Close removes it.
func (c *Cluster) Dir() string { return c.base }

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return c.dataDir }

// SocketDir is the cluster's private unix socket directory (psql -h).
// Local socket connections are trusted; when running as root only root and
// the postgres user can reach it.
func (c *Cluster) SocketDir() string { return c.sockDir }

// LogFile is the path of the server log (postgres' stdout and stderr).
func (c *Cluster) LogFile() string { return c.logPath }

// Running reports whether the postmaster is up (started and not stopped).
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc != nil && !exited(c.proc)
}

// Stop shuts the cluster down the way "pg_ctl stop -m fast" does (SIGINT:
// connections are terminated, open transactions rolled back, a shutdown
// checkpoint is written) and waits for it. The data is kept; StartAgain
// brings it back on the same port. Stopping a stopped cluster is a no-op.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopLocked(syscall.SIGINT)
}

// StartAgain starts a stopped cluster again on the same port and waits until
// it accepts connections.
func (c *Cluster) StartAgain() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("pgcluster: StartAgain on a closed cluster")
	}
	if c.proc != nil {
		if !exited(c.proc) {
			return errors.New("pgcluster: StartAgain: the cluster is running")
		}
		c.proc = nil // it died on its own; start it anew
	}
	return c.startProcessLocked()
}

// Restart is Stop followed by StartAgain ("pg_ctl restart -m fast"): every
// session is terminated and the cluster comes back on the same port.
func (c *Cluster) Restart() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("pgcluster: Restart on a closed cluster")
	}
	if err := c.stopLocked(syscall.SIGINT); err != nil {
		return err
	}
	return c.startProcessLocked()
}

// Close stops the cluster at once (immediate shutdown) and removes its
// directory. It is safe to call more than once.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.stopLocked(syscall.SIGQUIT)
	c.launch.close()
	if rerr := os.RemoveAll(c.base); rerr != nil && err == nil {
		err = fmt.Errorf("pgcluster: remove %s: %w", c.base, rerr)
	}
	return err
}

// CreateDatabase creates a fresh database, a copy of the cluster's template
// database, and returns its name (see URL). The name is unique on this
// cluster and made from hint, e.g. "t12_testload_delete_insert" for the
// hint "TestLoad/delete_insert". It is safe to call concurrently.
func (c *Cluster) CreateDatabase(ctx context.Context, hint string) (string, error) {
	name := c.nextName(hint)
	// CREATE DATABASE ... TEMPLATE fails while any other session is
	// connected to the template, including another CREATE DATABASE copying
	// it; so these are serialised and nothing stays connected to it.
	c.dbMu.Lock()
	err := c.adminExec(ctx, "postgres",
		"CREATE DATABASE "+quoteIdent(name)+" TEMPLATE "+quoteIdent(templateName))
	c.dbMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("pgcluster: create database %s: %w", name, err)
	}
	return name, nil
}

// DropDatabase drops the database name, if it exists, together with any
// sessions still connected to it.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	if err := c.adminExec(ctx, "postgres",
		"DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgcluster: drop database %s: %w", name, err)
	}
	return nil
}

// ExecTemplate runs sql (one or more statements) in the template database,
// so that every database CreateDatabase creates afterwards starts with its
// effects (a schema, tables, extensions). Databases created earlier are not
// affected. The session is closed before it returns.
func (c *Cluster) ExecTemplate(ctx context.Context, sql string) error {
	c.dbMu.Lock()
	defer c.dbMu.Unlock()
	return c.adminExec(ctx, templateName, sql)
}

// --- setup -----------------------------------------------------------------

// findBinDir returns $PG_BINDIR, else the newest
// /usr/lib/postgresql/<version>/bin holding a postgres binary, else the
// directory of a postgres found on $PATH.
func findBinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if !isFile(filepath.Join(d, "postgres")) {
			return "", fmt.Errorf("pgcluster: PG_BINDIR=%s holds no postgres binary", d)
		}
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) > 0 {
		sort.Slice(matches, func(i, j int) bool {
			return versionLess(versionOf(matches[i]), versionOf(matches[j]))
		})
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pgcluster: no PostgreSQL server binaries: none in /usr/lib/postgresql/*/bin, PG_BINDIR unset, no postgres on PATH")
}

func versionOf(postgresPath string) []int {
	// /usr/lib/postgresql/<version>/bin/postgres
	v := filepath.Base(filepath.Dir(filepath.Dir(postgresPath)))
	var out []int
	for _, f := range strings.Split(v, ".") {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

func versionLess(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// serverCredential is nil when not root, else the postgres OS user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root, and PostgreSQL refuses to run as root, but there is no %q OS user to run it as: %w", superuser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgcluster: OS user %q has a non-numeric uid/gid %s/%s", superuser, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// parentDir is where clusters live: $PGCLUSTER_DIR if set, else /dev/shm when
// it is a tmpfs with room to spare (a cluster on tmpfs starts in well under a
// second and copies a database in ~15ms; on a disk that can be 2s and 250ms),
// else the usual temporary directory.
func parentDir() string {
	if d := os.Getenv("PGCLUSTER_DIR"); d != "" {
		return d
	}
	const tmpfsMagic = 0x01021994
	var st syscall.Statfs_t
	if err := syscall.Statfs(shmDir, &st); err == nil && st.Type == tmpfsMagic &&
		uint64(st.Bavail)*uint64(st.Bsize) >= shmMinFree && syscall.Access(shmDir, 2 /* W_OK */) == nil {
		return shmDir
	}
	return os.TempDir()
}

const (
	shmDir     = "/dev/shm"
	shmMinFree = 2 << 30
)

// childEnv is our environment without PG* variables, which would otherwise
// steer initdb/postgres (PGDATA, PGPORT, ...).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "TZ=UTC")
}

func (c *Cluster) prepare() error {
	if err := writeOwner(c.base); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for _, d := range []string{c.dataDir, c.sockDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	if len(filepath.Join(c.sockDir, ".s.PGSQL.65535")) > 100 {
		return fmt.Errorf("pgcluster: socket directory path %s is too long for a unix socket; set TMPDIR to a shorter directory", c.sockDir)
	}
	return c.chown(c.base, c.dataDir, c.sockDir)
}

func (c *Cluster) chown(paths ...string) error {
	if c.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Lchown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

func (c *Cluster) initdb() error {
	pwfile := filepath.Join(c.base, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer os.Remove(pwfile)
	if err := c.chown(pwfile); err != nil {
		return err
	}
	run := func(locale string) ([]byte, error) {
		cmd := exec.Command(filepath.Join(c.binDir, "initdb"),
			"--pgdata="+c.dataDir,
			"--username="+superuser,
			"--pwfile="+pwfile,
			"--auth-local=trust",
			"--auth-host=scram-sha-256",
			"--encoding=UTF8",
			"--locale="+locale,
			"--no-sync",
		)
		cmd.Dir = c.base
		cmd.Env = c.env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		return cmd.CombinedOutput()
	}
	out, err := run("C.UTF-8")
	if err != nil && bytes.Contains(out, []byte("locale")) {
		// No C.UTF-8 locale on this system: fall back to plain C.
		if rmErr := c.emptyDataDir(); rmErr != nil {
			return rmErr
		}
		out, err = run("C")
	}
	if err != nil {
		return fmt.Errorf("pgcluster: initdb: %v\n%s", err, out)
	}

	conf := fmt.Sprintf(`
# --- pgcluster: a throwaway cluster; durability is off on purpose ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
timezone = 'UTC'
log_timezone = 'UTC'
include 'pgcluster_port.conf'
`, c.sockDir)
	f, err := os.OpenFile(filepath.Join(c.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

func (c *Cluster) emptyDataDir() error {
	entries, err := os.ReadDir(c.dataDir)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(c.dataDir, e.Name())); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

// writePortConf records the port in the data directory, so that the port
// also holds for anyone starting the cluster by hand with pg_ctl.
func (c *Cluster) writePortConf() error {
	p := filepath.Join(c.dataDir, "pgcluster_port.conf")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("port = %d\n", c.port)), 0o644); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return c.chown(p)
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// --- the postmaster --------------------------------------------------------

func (c *Cluster) startProcess() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startProcessLocked()
}

func (c *Cluster) startProcessLocked() error {
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	logStart, _ := logf.Seek(0, io.SeekEnd)
	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), "-D", c.dataDir)
	cmd.Dir = c.base
	cmd.Env = c.env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGQUIT}
	err = c.launch.start(cmd)
	logf.Close() // the child has its own descriptor
	if err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for {
		select {
		case <-p.done:
			return fmt.Errorf("pgcluster: postgres exited while starting (%v):\n%s", p.err, c.logSince(logStart))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		lastErr = c.ping(ctx)
		cancel()
		if lastErr == nil {
			c.proc = p
			return nil
		}
		if time.Now().After(deadline) {
			c.proc = p
			c.stopLocked(syscall.SIGQUIT)
			return fmt.Errorf("pgcluster: postgres not ready after %v (last error: %v):\n%s", startTimeout, lastErr, c.logSince(logStart))
		}
		time.Sleep(15 * time.Millisecond)
	}
}

func (c *Cluster) ping(ctx context.Context) error {
	conn, err := c.adminConnect(ctx, "postgres")
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// stopLocked signals the postmaster and waits for it to exit, escalating to
// SIGQUIT and then SIGKILL if it takes too long.
func (c *Cluster) stopLocked(sig syscall.Signal) error {
	p := c.proc
	if p == nil {
		return nil
	}
	c.proc = nil
	if exited(p) {
		return fmt.Errorf("pgcluster: postgres had already exited (%v); see %s", p.err, c.logPath)
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		if sig == syscall.SIGINT && p.err != nil {
			return fmt.Errorf("pgcluster: postgres fast shutdown: %v; see %s", p.err, c.logPath)
		}
		return nil
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return fmt.Errorf("pgcluster: postgres did not stop within %v after %v", stopTimeout, sig)
}

func exited(p *process) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (c *Cluster) logSince(off int64) string {
	f, err := os.Open(c.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 16<<10))
	return string(b)
}

// launcher forks processes from one goroutine locked to its OS thread, so
// that their Pdeathsig fires when the owning process dies and not when some
// runtime thread happens to exit. The thread ends with close.
type launcher struct {
	reqs chan launchReq
	done chan struct{}
}

type launchReq struct {
	cmd  *exec.Cmd
	errc chan error
}

func newLauncher() *launcher {
	l := &launcher{reqs: make(chan launchReq), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with us
		defer close(l.done)
		for r := range l.reqs {
			r.errc <- r.cmd.Start()
		}
	}()
	return l
}

func (l *launcher) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	l.reqs <- launchReq{cmd: cmd, errc: errc}
	return <-errc
}

func (l *launcher) close() {
	close(l.reqs)
	<-l.done
}

// --- admin SQL -------------------------------------------------------------

// adminConnect connects as the superuser through the private unix socket
// (trusted: no SCRAM round, which costs ~100ms under the race detector).
func (c *Cluster) adminConnect(ctx context.Context, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, err
	}
	cfg.Host = c.sockDir
	cfg.Port = uint16(c.port)
	cfg.User = superuser
	cfg.Database = database
	cfg.RuntimeParams["application_name"] = "pgcluster"
	return pgx.ConnectConfig(ctx, cfg)
}

func (c *Cluster) adminExec(ctx context.Context, database, sql string) error {
	conn, err := c.adminConnect(ctx, database)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	if cerr := conn.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// nextName makes a unique database name from hint, e.g.
// "t12_testload_delete_insert".
func (c *Cluster) nextName(hint string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t%d_", c.seq.Add(1))
	for _, r := range strings.ToLower(hint) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// --- leftovers -------------------------------------------------------------

// ownerFile names the process that owns a cluster's directory.
const ownerFile = "owner.pid"

// writeOwner records this process as the owner of the directory base. The
// file appears whole (written aside, then renamed): sweepStale in another
// process never reads it empty.
func writeOwner(base string) error {
	tmp := filepath.Join(base, ownerFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(base, ownerFile))
}

// sweepStale removes pgcluster directories whose owning process is gone and
// whose postmaster (if any) is gone too: what a process that crashed left.
// The owner file is read once, and a directory without an owner in it yet
// is left alone: another process is starting a cluster in it right now
// (MkdirTemp comes before writeOwner).
func sweepStale() {
	var dirs []string
	for _, parent := range []string{os.Getenv("PGCLUSTER_DIR"), shmDir, os.TempDir()} {
		if parent != "" {
			m, _ := filepath.Glob(filepath.Join(parent, dirPrefix+"*"))
			dirs = append(dirs, m...)
		}
	}
	for _, d := range dirs {
		owner := readPid(filepath.Join(d, ownerFile))
		if owner > 0 && !alive(owner) && !alive(readPid(filepath.Join(d, "data", "postmaster.pid"))) {
			_ = os.RemoveAll(d)
		}
	}
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie (killed, not yet reaped) is as good as dead.
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}
