package pgbouncer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loadsvc/loadsvc/internal/pgcluster"
	"github.com/loadsvc/loadsvc/internal/pgtest"
)

const (
	pgbouncerBin = "/usr/sbin/pgbouncer"
	// serverPoolSize is PgBouncer's default_pool_size: server connections
	// per database, fewer than the service's pgx connections.
	serverPoolSize = 4
	// singleDB is a PgBouncer database served by one server connection.
	singleDB = "pgb_single"

	dirPrefix = "pgbouncer-test-"

	bouncerStartTimeout = 30 * time.Second
	bouncerStopTimeout  = 10 * time.Second
)

// bouncer is a running pgbouncer process in front of a pgtest cluster.
type bouncer struct {
	dir     string // temporary directory: config, auth file, log
	logPath string
	port    int
	version string
	cred    *syscall.Credential // nil unless running as root
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // cmd.Wait's result, valid after done
}

// bouncerConfig is pgbouncer.ini: transaction pooling in front of the
// cluster, every database name passed through, SCRAM for clients.
const bouncerConfig = `[databases]
%[1]s = host=127.0.0.1 port=%[2]d dbname=%[1]s pool_size=1
* = host=127.0.0.1 port=%[2]d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %[3]d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %[4]s
pool_mode = transaction
max_client_conn = 500
default_pool_size = %[5]d
min_pool_size = 0
reserve_pool_size = 0
server_reset_query =
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
`

// startBouncer writes the configuration into a fresh temporary directory and
// starts pgbouncer (as the postgres OS user when root: pgbouncer refuses to
// run as root) on a free port, retrying when another process takes the port
// first. The caller's OS thread must stay alive as long as pgbouncer: it is
// killed (Pdeathsig) when that thread ends.
func startBouncer(cl *pgtest.Cluster) (*bouncer, error) {
	out, err := exec.Command(pgbouncerBin, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", pgbouncerBin, err)
	}
	b := &bouncer{version: strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])}
	if b.cred, err = credential(); err != nil {
		return nil, err
	}
	sweepStale()
	if b.dir, err = os.MkdirTemp("", dirPrefix); err != nil {
		return nil, err
	}
	b.logPath = filepath.Join(b.dir, "pgbouncer.log")
	if err := errors.Join(b.writeOwner(), b.writeAuthFile(cl.Password())); err != nil {
		b.remove()
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		err = b.launch(cl.Port())
		if err == nil {
			return b, nil
		}
		if attempt == 5 || !strings.Contains(err.Error(), "in use") {
			b.remove()
			return nil, err
		}
	}
}

// credential is nil when not root, else the postgres OS user.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and pgbouncer refuses root, but there is no postgres OS user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("OS user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// writeAuthFile writes the auth_file: user postgres with the cluster's
// password, which PgBouncer checks clients against (SCRAM) and logs in to
// the cluster with.
func (b *bouncer) writeAuthFile(password string) error {
	line := fmt.Sprintf("%q %q\n", "postgres", password)
	if err := os.WriteFile(b.authPath(), []byte(line), 0o600); err != nil {
		return err
	}
	return b.chown(b.dir, b.authPath())
}

// writeOwner records the test process, for sweepStale.
func (b *bouncer) writeOwner() error {
	return os.WriteFile(filepath.Join(b.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

// sweepStale removes the directories of test binaries that died without
// removing theirs (their pgbouncer died with them: Pdeathsig).
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 0 && !alive(pid) {
			_ = os.RemoveAll(d)
		}
	}
}

// alive reports whether process pid exists (a zombie counts as dead).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func (b *bouncer) authPath() string { return filepath.Join(b.dir, "userlist.txt") }
func (b *bouncer) iniPath() string  { return filepath.Join(b.dir, "pgbouncer.ini") }

func (b *bouncer) chown(paths ...string) error {
	if b.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Lchown(p, int(b.cred.Uid), int(b.cred.Gid)); err != nil {
			return err
		}
	}
	return nil
}

// launch starts pgbouncer on a free port and waits until it accepts
// connections.
func (b *bouncer) launch(clusterPort int) error {
	port, err := pgcluster.FreePort()
	if err != nil {
		return err
	}
	ini := fmt.Sprintf(bouncerConfig, singleDB, clusterPort, port, b.authPath(), serverPoolSize)
	if err := os.WriteFile(b.iniPath(), []byte(ini), 0o600); err != nil {
		return err
	}
	if err := b.chown(b.iniPath()); err != nil {
		return err
	}
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(pgbouncerBin, b.iniPath())
	cmd.Dir = b.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: b.cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", pgbouncerBin, err)
	}
	b.cmd, b.port, b.done = cmd, port, make(chan struct{})
	go func() {
		b.err = cmd.Wait()
		close(b.done)
	}()
	return b.waitReady()
}

// waitReady polls the port until pgbouncer listens, or it exits.
func (b *bouncer) waitReady() error {
	deadline := time.Now().Add(bouncerStartTimeout)
	for {
		select {
		case <-b.done:
			return fmt.Errorf("pgbouncer exited while starting (%v):\n%s", b.err, b.log())
		default:
		}
		c, err := net.DialTimeout("tcp", b.addr(), time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			b.stop()
			return fmt.Errorf("pgbouncer not listening on %s after %v:\n%s", b.addr(), bouncerStartTimeout, b.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *bouncer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

func (b *bouncer) log() string {
	out, _ := os.ReadFile(b.logPath)
	if len(out) > 16<<10 {
		out = out[len(out)-16<<10:]
	}
	return string(bytes.TrimSpace(out))
}

// stop shuts pgbouncer down at once (SIGTERM: immediate shutdown), killing
// it if it lingers, and waits for it.
func (b *bouncer) stop() error {
	if b.cmd == nil {
		return nil
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(bouncerStopTimeout):
		_ = b.cmd.Process.Kill()
		<-b.done
		return fmt.Errorf("pgbouncer did not stop within %v of SIGTERM", bouncerStopTimeout)
	}
	return nil
}

// close stops pgbouncer and removes its directory.
func (b *bouncer) close() error {
	err := b.stop()
	b.remove()
	return err
}

func (b *bouncer) remove() { _ = os.RemoveAll(b.dir) }

// createSingleDB creates the database PgBouncer serves through one server
// connection (see bouncerConfig).
func createSingleDB(ctx context.Context, cl *pgtest.Cluster) error {
	conn, err := connectDirect(ctx, cl.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+singleDB)
	return err
}
