package tlsconfig

import (
	"context"
	"crypto/tls"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/loadsvc/loadsvc/internal/filewatch"
)

// DefaultInterval is how often Watch looks at the files when asked to
// watch with a non-positive interval.
const DefaultInterval = filewatch.DefaultInterval

// Reloader serves a certificate, key and optional client CA bundle read
// from files, and re-reads them on Reload or, under Watch, when their
// content changes. Handshakes always see one complete, working generation:
// a reload that fails keeps the previous one. It is safe for concurrent use.
type Reloader struct {
	certFile, keyFile, caFile string
	log                       *zap.Logger

	mu  sync.Mutex // serializes reloads
	cur atomic.Pointer[material]
}

// New loads certFile and keyFile (PEM) and, when clientCAFile is not
// empty, the PEM bundle of CAs whose client certificates are required and
// accepted (mutual TLS). It fails when any of them cannot be loaded.
func New(certFile, keyFile, clientCAFile string, log *zap.Logger) (*Reloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: both a certificate file and a key file are needed")
	}
	if log == nil {
		log = zap.NewNop()
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, caFile: clientCAFile, log: log}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// ServerConfig returns the tls.Config for the server, for example for
// credentials.NewTLS. Every handshake takes the current generation through
// GetConfigForClient (certificate, client CAs and whether a client
// certificate is required); TLS 1.2 is the minimum.
func (r *Reloader) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.cur.Load().config, nil
		},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &r.cur.Load().config.Certificates[0], nil
		},
	}
}

// Reload reads the files again and, if they load, serves them from the
// next handshake on. On error the previous generation stays in service and
// the error says which file failed; it never holds key material.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload(true)
}

// Watch re-reads the files every interval (DefaultInterval if every <= 0)
// and reloads when their content changed, logging each failure once. It
// returns when ctx ends; run it in its own goroutine.
func (r *Reloader) Watch(ctx context.Context, every time.Duration) {
	filewatch.Watch(ctx, every, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.reload(false)
	}, r.log, "tls reload failed; keeping the certificate in service")
}

// reload loads the files when force is set or their content changed since
// the generation in service. The caller holds r.mu.
func (r *Reloader) reload(force bool) error {
	f, err := readFiles(r.certFile, r.keyFile, r.caFile)
	if err != nil {
		return err
	}
	if cur := r.cur.Load(); !force && cur != nil && cur.sum == f.sum {
		return nil
	}
	m, err := parse(f, r.certFile, r.keyFile, r.caFile)
	if err != nil {
		return err
	}
	r.cur.Store(m)
	r.logLoaded(m)
	return nil
}

func (r *Reloader) logLoaded(m *material) {
	fields := []zap.Field{
		zap.String("cert_file", r.certFile), zap.String("subject", m.leaf.Subject.String()),
		zap.String("serial", m.leaf.SerialNumber.String()), zap.Time("not_after", m.leaf.NotAfter),
		zap.Bool("client_auth", r.caFile != ""),
	}
	if time.Now().After(m.leaf.NotAfter) {
		r.log.Warn("tls certificate loaded, but it has expired", fields...)
		return
	}
	r.log.Info("tls certificate loaded", fields...)
}
