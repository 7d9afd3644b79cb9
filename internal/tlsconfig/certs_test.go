package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/loadsvc/loadsvc/internal/testenv"
)

// testCA is a throwaway certificate authority of one test.
type testCA struct {
	*testenv.CA
	pem []byte
}

func newCA(t *testing.T, cn string) *testCA {
	t.Helper()
	ca := testenv.NewCA(t, cn)
	return &testCA{CA: ca, pem: ca.PEM}
}

// issue signs a leaf: a server certificate for 127.0.0.1 or a client one.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl = testenv.ServerTemplate(cn)
	}
	tmpl.SerialNumber = big.NewInt(serial)
	return ca.Issue(t, tmpl)
}

// clientCert is a client certificate signed by ca, ready for tls.Config.
func (ca *testCA) clientCert(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	return ca.ClientCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}})
}

func (ca *testCA) pool() *x509.CertPool { return ca.Pool() }

// certFiles are the paths a test's Reloader reads.
type certFiles struct{ cert, key, ca string }

func newCertFiles(t *testing.T) certFiles {
	dir := t.TempDir()
	return certFiles{cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key"), ca: filepath.Join(dir, "ca.crt")}
}

// writeServer writes a server certificate and key issued by ca; rename
// makes each file change atomic, as a certificate manager would.
func (f certFiles) writeServer(t *testing.T, ca *testCA, cn string, serial int64) {
	t.Helper()
	c, k := ca.issue(t, cn, serial, true)
	writeFile(t, f.key, k)
	writeFile(t, f.cert, c)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
