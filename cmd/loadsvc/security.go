package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/loadsvc/loadsvc/internal/auth"
	"github.com/loadsvc/loadsvc/internal/tlsconfig"
)

// security is the service's TLS, token authentication and table allowlist,
// each off unless configured.
type security struct {
	opts    []grpc.ServerOption
	policy  *auth.Policy
	reloads []func() error
}

// newSecurity builds what the config asks for and starts the file watchers,
// which end with ctx.
func newSecurity(ctx context.Context, cfg *config, log *zap.Logger) (*security, error) {
	s := &security{}
	policy, err := auth.NewPolicy(cfg.AllowTables)
	if err != nil {
		return nil, err
	}
	s.policy = policy
	if cfg.TokensFile != "" {
		authn, err := auth.NewAuthenticator(cfg.TokensFile, log)
		if err != nil {
			return nil, err
		}
		go authn.Watch(ctx, cfg.ReloadInterval)
		s.opts = append(s.opts, authn.ServerOptions()...)
		s.reloads = append(s.reloads, authn.Reload)
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		tr, err := tlsconfig.New(cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA, log)
		if err != nil {
			return nil, err
		}
		go tr.Watch(ctx, cfg.ReloadInterval)
		s.opts = append(s.opts, grpc.Creds(credentials.NewTLS(tr.ServerConfig())))
		s.reloads = append(s.reloads, tr.Reload)
	}
	go s.reloadOnHUP(ctx, log)
	return s, nil
}

// reloadOnHUP reloads the certificate and the token file on SIGHUP.
func (s *security) reloadOnHUP(ctx context.Context, log *zap.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			for _, reload := range s.reloads {
				if err := reload(); err != nil {
					log.Warn("reload on SIGHUP failed; keeping the previous files", zap.Error(err))
				}
			}
			log.Info("reloaded TLS certificate and tokens on SIGHUP")
		}
	}
}
