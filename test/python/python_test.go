// Package python runs the Python client's tests (python/tests) and its
// benchmark (python/bench) against a real loadsvc and PostgreSQL, so that
// `go test ./...`, and with it `make test`, runs them.
//
// TestMain builds cmd/loadsvc and starts a throwaway cluster
// (internal/pgtest). Each test starts the binary on a free loopback port
// against a fresh database, with mTLS (a throwaway CA, a server and a client
// certificate) and a bearer token required, plus a tiny HTTP
// control on loopback through which the Python tests stop and start the
// database (POST /db/stop, POST /db/start) for the retry and
// connection-failure tests. Then it runs Debian's /usr/bin/python3 (or
// $LOADSVC_PYTHON) with these variables:
//
//	PYTHONPATH                 python/ (the package under test)
//	LOADSVC_TEST_TARGET        the service's host:port
//	LOADSVC_TEST_TOKEN         a token the service accepts
//	LOADSVC_TEST_CA            the CA that signed the service's certificate
//	LOADSVC_TEST_CLIENT_CERT   a client certificate the service accepts
//	LOADSVC_TEST_CLIENT_KEY    its private key
//	LOADSVC_TEST_DATABASE_URL  the database, for psql and checks
//	LOADSVC_TEST_PSQL          the psql binary of the cluster
//	LOADSVC_TEST_CONTROL       the control's base URL
//	LOADSVC_TEST_PID           the service's process id (the benchmark reads its CPU time)
//
// A missing Python or Python package fails the test (run `make
// python-deps`): it never skips. TestBench runs only with
// LOADSVC_BENCH_PYTHON=1 (`make bench-python`).
package python

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/pgtest"
	"github.com/loadsvc/loadsvc/internal/testenv"
)

var (
	cluster *pgtest.Cluster
	root    string // the repository root
	binary  string // the loadsvc built for these tests
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	var err error
	if root, err = filepath.Abs(filepath.Join("..", "..")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "loadsvc-python-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "loadsvc")
	cmd := exec.Command("go", "build", "-o", binary, "./cmd/loadsvc")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "python: build loadsvc: %v\n%s", err, out)
		return 1
	}
	return pgtest.Main(m, &cluster)
}

// TestPython runs python/tests with pytest.
func TestPython(t *testing.T) {
	env := serve(t)
	runPython(t, env, "-m", "pytest", "-q", "-p", "no:cacheprovider", "python/tests")
}

// TestBench runs python/bench/bench.py (make bench-python): the client
// against asyncpg, psycopg 3 and psycopg2 on 200,000 rows; BENCH_ROWS
// overrides the count, BENCH_RUNS the rounds.
func TestBench(t *testing.T) {
	if os.Getenv("LOADSVC_BENCH_PYTHON") == "" {
		t.Skip("the Python benchmark runs with LOADSVC_BENCH_PYTHON=1 (make bench-python)")
	}
	env := serve(t)
	runPython(t, env, "python/bench/bench.py")
}

// serve starts a loadsvc on a fresh database and the database control, and
// returns the environment of the Python process.
func serve(t *testing.T) []string {
	t.Helper()
	url := cluster.NewDatabase(t)
	token := randomHex(t, 16)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(token+" name=python-tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pki := newPKI(t)
	// Mutual TLS guards every call, health checks too: listening is what
	// the Python tests wait for.
	p := testenv.StartProcess(t, binary, nil, "--database-url", url, "--log-format", "console",
		"--log-level", "error", "--auth-tokens-file", tokens, "--max-rows", "100000",
		"--tls-cert", pki.serverCert, "--tls-key", pki.serverKey, "--tls-client-ca", pki.ca)
	return append(os.Environ(),
		"PYTHONPATH="+filepath.Join(root, "python"),
		"PYTHONDONTWRITEBYTECODE=1",
		"LOADSVC_TEST_TARGET="+p.Addr,
		"LOADSVC_TEST_TOKEN="+token,
		"LOADSVC_TEST_CA="+pki.ca,
		"LOADSVC_TEST_CLIENT_CERT="+pki.clientCert,
		"LOADSVC_TEST_CLIENT_KEY="+pki.clientKey,
		"LOADSVC_TEST_DATABASE_URL="+url,
		"LOADSVC_TEST_PSQL="+filepath.Join(cluster.BinDir(), "psql"),
		"LOADSVC_TEST_CONTROL="+control(t),
		"LOADSVC_TEST_PID="+strconv.Itoa(p.Cmd.Process.Pid),
	)
}

// runPython runs the Python interpreter with args in the repository root
// and fails the test, with its output, on a non-zero exit.
func runPython(t *testing.T, env []string, args ...string) {
	t.Helper()
	python := os.Getenv("LOADSVC_PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	check := exec.Command(python, "-c", "import grpc, google.protobuf, pytest, pandas, numpy")
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("%s lacks the Python client's packages (%v):\n%s\nrun `make python-deps` (scripts/ensure-python.sh)", python, err, out)
	}
	cmd := exec.Command(python, args...)
	cmd.Dir = root
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	t.Logf("%s %v (%v):\n%s", python, args, time.Since(began).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("%s %v: %v", python, args, err)
	}
}

// control serves POST /db/stop and POST /db/start on a loopback port until
// cleanup, and makes sure the cluster runs again at cleanup.
func control(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex
	mux := http.NewServeMux()
	handle := func(path string, f func() error) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST only", http.StatusMethodNotAllowed)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if err := f(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, "ok")
		})
	}
	handle("/db/stop", func() error {
		if !cluster.Running() {
			return nil
		}
		return cluster.Stop()
	})
	handle("/db/start", func() error {
		if cluster.Running() {
			return nil
		}
		return cluster.StartAgain()
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("the cluster's control server: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !cluster.Running() {
			if err := cluster.StartAgain(); err != nil {
				t.Errorf("start the cluster again: %v", err)
			}
		}
	})
	return "http://" + lis.Addr().String()
}

// pki is a throwaway CA and the PEM files it signed.
type pki struct {
	ca                    string
	serverCert, serverKey string // for 127.0.0.1 and localhost
	clientCert, clientKey string
}

// newPKI writes a CA, a server and a client certificate into a temporary
// directory.
func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert, caDER := issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "loadsvc python tests CA"},
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}, nil, nil)
	p := pki{ca: writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)}
	for _, leaf := range []struct {
		name      string
		tmpl      *x509.Certificate
		cert, key *string
	}{
		{"server", &x509.Certificate{
			Subject:     pkix.Name{CommonName: "localhost"},
			DNSNames:    []string{"localhost"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}, &p.serverCert, &p.serverKey},
		{"client", &x509.Certificate{
			Subject:     pkix.Name{CommonName: "python-tests"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, &p.clientCert, &p.clientKey},
	} {
		leaf.tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		key, _, der := issue(t, leaf.tmpl, caCert, caKey)
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		*leaf.cert = writePEM(t, dir, leaf.name+".pem", "CERTIFICATE", der)
		*leaf.key = writePEM(t, dir, leaf.name+"-key.pem", "PRIVATE KEY", keyDER)
	}
	return p
}

// issue makes a key and a certificate of tmpl, valid for a day, signed by
// parent (self-signed when parent is nil).
func issue(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
