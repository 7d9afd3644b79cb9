package tlsconfig_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/loadsvc/loadsvc/internal/testenv"
	"github.com/loadsvc/loadsvc/internal/tlsconfig"
)

// serveHealth runs a gRPC server with the health service on loopback,
// its TLS from r, until the test ends; it returns the address.
func serveHealth(t *testing.T, r *tlsconfig.Reloader) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(r.ServerConfig())))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	var wg sync.WaitGroup
	wg.Go(func() { _ = gs.Serve(lis) })
	t.Cleanup(func() { gs.Stop(); wg.Wait() })
	return lis.Addr().String()
}

// check calls Health.Check on a new connection and returns the certificate
// the server presented.
func check(t *testing.T, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var p peer.Peer
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p)); err != nil {
		return nil, err
	}
	return p.AuthInfo.(credentials.TLSInfo).State.PeerCertificates[0], nil
}

// mustServe checks that a new connection succeeds and sees serial.
func mustServe(t *testing.T, addr string, cfg *tls.Config, serial int64) {
	t.Helper()
	cert, err := check(t, addr, cfg)
	if err != nil {
		t.Fatalf("health check: %v", err)
	}
	if cert.SerialNumber.Int64() != serial {
		t.Fatalf("server presented serial %d (%s), want %d", cert.SerialNumber, cert.Subject.CommonName, serial)
	}
}

// eventuallyServes waits until a new connection sees serial.
func eventuallyServes(t *testing.T, addr string, cfg *tls.Config, serial int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cert, err := check(t, addr, cfg)
		if err == nil && cert.SerialNumber.Int64() == serial {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serial %d never served (last: %v, %v)", serial, cert, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newReloader(t *testing.T, f certFiles, ca string) (*tlsconfig.Reloader, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	r, err := tlsconfig.New(f.cert, f.key, ca, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	return r, logs
}

func TestReloadServesNewCertificate(t *testing.T) {
	t.Parallel()
	ca, f := newCA(t, "test CA"), newCertFiles(t)
	f.writeServer(t, ca, "server one", 1)
	r, logs := newReloader(t, f, "")
	addr := serveHealth(t, r)
	client := &tls.Config{RootCAs: ca.pool()}
	mustServe(t, addr, client, 1)

	f.writeServer(t, ca, "server two", 2)
	mustServe(t, addr, client, 1) // no reload yet, no watch
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	mustServe(t, addr, client, 2)
	if n := logs.FilterMessage("tls certificate loaded").Len(); n != 2 {
		t.Errorf("%d 'tls certificate loaded' lines, want 2", n)
	}
}

func TestWatchPicksUpChange(t *testing.T) {
	t.Parallel()
	ca, f := newCA(t, "test CA"), newCertFiles(t)
	f.writeServer(t, ca, "server one", 1)
	r, _ := newReloader(t, f, "")
	addr := serveHealth(t, r)
	client := &tls.Config{RootCAs: ca.pool()}
	watch(t, r, 20*time.Millisecond)
	mustServe(t, addr, client, 1)

	f.writeServer(t, ca, "server two", 2)
	eventuallyServes(t, addr, client, 2)
}

// watch runs r.Watch until the test ends.
func watch(t *testing.T, r *tlsconfig.Reloader, every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.Watch(ctx, every) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func TestFailedReloadKeepsCertificate(t *testing.T) {
	t.Parallel()
	ca, f := newCA(t, "test CA"), newCertFiles(t)
	f.writeServer(t, ca, "server one", 1)
	r, logs := newReloader(t, f, "")
	addr := serveHealth(t, r)
	client := &tls.Config{RootCAs: ca.pool()}

	_, otherKey := ca.issue(t, "other", 9, true)
	writeFile(t, f.key, otherKey) // the key no longer matches the certificate
	err := r.Reload()
	if err == nil {
		t.Fatal("Reload of a mismatched key pair succeeded")
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") || !strings.Contains(err.Error(), f.cert) {
		t.Errorf("error %q should name the files and hold no key material", err)
	}
	mustServe(t, addr, client, 1)

	opens := testenv.WatchOpens(t, f.key)
	watch(t, r, 5*time.Millisecond)
	opens.Wait(t, 5) // five polls of the same bad files
	if n := logs.FilterMessageSnippet("tls reload failed").Len(); n != 1 {
		t.Errorf("%d reload failures logged, want 1 for one bad state", n)
	}
	mustServe(t, addr, client, 1)

	f.writeServer(t, ca, "server three", 3)
	eventuallyServes(t, addr, client, 3)
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca, f := newCA(t, "test CA"), newCertFiles(t)
	f.writeServer(t, ca, "server", 1)
	writeFile(t, f.ca, ca.pem)
	r, _ := newReloader(t, f, f.ca)
	addr := serveHealth(t, r)

	if _, err := check(t, addr, &tls.Config{RootCAs: ca.pool()}); err == nil {
		t.Error("a client without a certificate was accepted")
	}
	stranger := newCA(t, "stranger CA").clientCert(t, "mallory")
	if _, err := check(t, addr, &tls.Config{RootCAs: ca.pool(), Certificates: []tls.Certificate{stranger}}); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	good := ca.clientCert(t, "worker")
	mustServe(t, addr, &tls.Config{RootCAs: ca.pool(), Certificates: []tls.Certificate{good}}, 1)
}

func TestClientCAReload(t *testing.T) {
	t.Parallel()
	oldCA, nextCA, f := newCA(t, "old CA"), newCA(t, "new CA"), newCertFiles(t)
	f.writeServer(t, oldCA, "server", 1)
	writeFile(t, f.ca, oldCA.pem)
	r, _ := newReloader(t, f, f.ca)
	addr := serveHealth(t, r)
	roots := oldCA.pool()
	withNew := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{nextCA.clientCert(t, "worker")}}
	if _, err := check(t, addr, withNew); err == nil {
		t.Fatal("client of the new CA accepted before the CA file changed")
	}
	writeFile(t, f.ca, nextCA.pem)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	mustServe(t, addr, withNew, 1)
}

func TestMinVersionTLS12(t *testing.T) {
	t.Parallel()
	ca, f := newCA(t, "test CA"), newCertFiles(t)
	f.writeServer(t, ca, "server", 1)
	r, _ := newReloader(t, f, "")
	if v := r.ServerConfig().MinVersion; v != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", v)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = tls.Server(c, r.ServerConfig()).Handshake()
	})
	c, err := tls.Dial("tcp", lis.Addr().String(), &tls.Config{RootCAs: ca.pool(), MaxVersion: tls.VersionTLS11})
	if err == nil {
		c.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	ca, f := newCA(t, "test CA"), newCertFiles(t)
	f.writeServer(t, ca, "server", 1)
	notPEM := f.ca + ".txt"
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][3]string{
		"no cert":      {"", f.key, ""},
		"no key":       {f.cert, "", ""},
		"missing cert": {f.cert + ".missing", f.key, ""},
		"missing key":  {f.cert, f.key + ".missing", ""},
		"missing CA":   {f.cert, f.key, f.ca + ".missing"},
		"CA not PEM":   {f.cert, f.key, notPEM},
		"cert not PEM": {notPEM, f.key, ""},
	} {
		if _, err := tlsconfig.New(args[0], args[1], args[2], nil); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}
