package tlsconfig

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"os"
)

// material is one loaded generation of the certificate, key and client CAs:
// the tls.Config handshakes get, and the digest of the files it came from.
type material struct {
	sum    [sha256.Size]byte
	leaf   *x509.Certificate
	config *tls.Config
}

// files are the raw contents of the files a Reloader watches.
type files struct {
	cert, key, ca []byte
	sum           [sha256.Size]byte
}

// readFiles reads the certificate, key and (if named) client CA files and
// digests them together, so a change of any one of them shows.
func readFiles(certFile, keyFile, caFile string) (*files, error) {
	var f files
	var err error
	if f.cert, err = os.ReadFile(certFile); err != nil {
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	if f.key, err = os.ReadFile(keyFile); err != nil {
		return nil, fmt.Errorf("tls key: %w", err)
	}
	if caFile != "" {
		if f.ca, err = os.ReadFile(caFile); err != nil {
			return nil, fmt.Errorf("tls client CA: %w", err)
		}
	}
	h := sha256.New()
	for _, b := range [][]byte{f.cert, f.key, f.ca} {
		_ = binary.Write(h, binary.BigEndian, uint64(len(b)))
		h.Write(b)
	}
	h.Sum(f.sum[:0])
	return &f, nil
}

// parse turns the files into the tls.Config of one generation; caFile is
// only for messages (f.ca is empty without mutual TLS).
func parse(f *files, certFile, keyFile, caFile string) (*material, error) {
	cert, err := tls.X509KeyPair(f.cert, f.key)
	if err != nil {
		return nil, fmt.Errorf("tls key pair %s, %s: %w", certFile, keyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls certificate %s: %w", certFile, err)
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if caFile != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(f.ca) {
			return nil, fmt.Errorf("tls client CA %s: no PEM certificate in it", caFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return &material{sum: f.sum, leaf: leaf, config: cfg}, nil
}
