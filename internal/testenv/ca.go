package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a throwaway certificate authority of one test: it issues the
// server and client certificates of a TLS or mutual-TLS service. It is
// not safe for concurrent use.
type CA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	PEM    []byte // the CA's certificate, for a client CA file
	serial int64
}

// NewCA makes a certificate authority named cn.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	ca := &CA{key: newKey(t)}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der := ca.sign(t, tmpl, tmpl, &ca.key.PublicKey)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca.cert, ca.PEM = cert, pemBlock("CERTIFICATE", der)
	return ca
}

// Pool is a certificate pool holding the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// ServerTemplate is the template of a server certificate for 127.0.0.1
// named cn, for Issue.
func ServerTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
}

// ServerFiles issues a server certificate for 127.0.0.1 and writes it,
// its key and the CA's certificate to dir: what LOADSVC_TLS_CERT,
// LOADSVC_TLS_KEY and LOADSVC_TLS_CLIENT_CA name.
func (ca *CA) ServerFiles(t testing.TB, dir string) (certFile, keyFile, caFile string) {
	t.Helper()
	certPEM, keyPEM := ca.Issue(t, ServerTemplate("loadsvc"))
	certFile, keyFile, caFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	for path, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM, caFile: ca.PEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, caFile
}

// ClientCert issues a client certificate of tmpl (its subject and SANs),
// ready for a tls.Config.
func (ca *CA) ClientCert(t testing.TB, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	cert, err := tls.X509KeyPair(ca.Issue(t, tmpl))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Issue signs tmpl with a new key, valid from an hour ago for a day, and
// returns the certificate and the key in PEM. It sets tmpl's validity and
// key usage, and its serial unless tmpl has one.
func (ca *CA) Issue(t testing.TB, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	key := newKey(t)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der := ca.sign(t, tmpl, ca.cert, &key.PublicKey)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", kder)
}

// sign makes the certificate of tmpl for pub, signed by parent with the
// CA's key.
func (ca *CA) sign(t testing.TB, tmpl, parent *x509.Certificate, pub any) []byte {
	t.Helper()
	if tmpl.SerialNumber == nil {
		ca.serial++
		tmpl.SerialNumber = big.NewInt(ca.serial)
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
