package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loadsvc/loadsvc/internal/server"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	s := startService(t)
	r := mustRun(t, nil, "health", "--addr", s.addr)
	if want := "\"\"                        SERVING\n\"loadsvc.v1.LoadService\"  SERVING\n"; r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	s.health.SetServingStatus(server.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	r = run(t, nil, "health", "--addr", s.addr)
	if want := "\"\"                        SERVING\n\"loadsvc.v1.LoadService\"  NOT_SERVING\n"; r.code != 1 || r.stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant exit 1:\n%s", r.code, r.stdout, want)
	}
}

// Statuses that cannot be written (stdout closed) fail the command: exit 1
// with the write error, not exit 0 with nothing printed.
func TestHealthOutputError(t *testing.T) {
	t.Parallel()
	s := startService(t)
	pr, stdout := io.Pipe()
	pr.Close()
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if code := realMain(ctx, []string{"health", "--addr", s.addr}, strings.NewReader(""), stdout, &stderr); code != exitFailure ||
		!strings.Contains(stderr.String(), io.ErrClosedPipe.Error()) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 naming the closed pipe", code, stderr.String())
	}
}

func TestHealthUnreachable(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	r := run(t, nil, "health", "--addr", addr, "--timeout", "2s")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "loadctl: Unavailable: ") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	cert, caPEM := selfSigned(t)
	s := startService(t, func(o *serviceOpts) { o.creds = credentials.NewServerTLSFromCert(&cert) })
	s.exec(t, `CREATE TABLE t (id int)`)
	ca := writeFile(t, "ca.pem", string(caPEM))
	if r := mustRun(t, nil, "health", "--addr", s.addr, "--ca-file", ca); !strings.Contains(r.stdout, "SERVING") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	mustRun(t, strings.NewReader("id\n1\n"), "load", "--addr", s.addr, "--ca-file", ca, "--table", "t", "--mode", "append")
	// The system's authorities do not know the test's certificate.
	if r := run(t, nil, "health", "--addr", s.addr, "--tls"); r.code != 1 || !strings.HasPrefix(r.stderr, "loadctl: Unavailable: ") {
		t.Errorf("--tls with an unknown authority: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	// Plaintext against TLS fails too.
	if r := run(t, nil, "health", "--addr", s.addr, "--timeout", "2s"); r.code != 1 {
		t.Errorf("plaintext: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := run(t, nil, "health", "--addr", s.addr, "--ca-file", writeFile(t, "bad.pem", "nope")); r.code != 1 ||
		!strings.Contains(r.stderr, "holds no PEM certificate") {
		t.Errorf("bad --ca-file: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// selfSigned makes a certificate for 127.0.0.1 that is its own authority.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "loadctl test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPEM
}
