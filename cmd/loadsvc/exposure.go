package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"
)

// checkExposure refuses to serve an address other machines can reach
// without authentication — neither tokens nor client certificates —
// unless the operator says so, and warns of bearer tokens that would
// cross the network in plaintext.
func checkExposure(ctx context.Context, cfg *config, log *zap.Logger) error {
	if loopback(ctx, cfg.Listen) {
		return nil
	}
	authenticated := cfg.TokensFile != "" || cfg.TLSClientCA != ""
	switch {
	case !authenticated && !cfg.AllowUnauthenticated:
		return fmt.Errorf("refusing to serve %s without authentication: any client that reaches it could write any table. "+
			"Set LOADSVC_AUTH_TOKENS_FILE (--auth-tokens-file) or client certificates (LOADSVC_TLS_CLIENT_CA with LOADSVC_TLS_CERT and LOADSVC_TLS_KEY), "+
			"listen on a loopback address such as 127.0.0.1:50051, or set LOADSVC_ALLOW_UNAUTHENTICATED=true (--allow-unauthenticated) "+
			"if the network in front of it does the gatekeeping", cfg.Listen)
	case !authenticated:
		log.Warn("serving a non-loopback address without authentication (LOADSVC_ALLOW_UNAUTHENTICATED=true): any client that reaches it may write any table",
			zap.String("listen", cfg.Listen))
	case cfg.TokensFile != "" && cfg.TLSCert == "":
		log.Warn("bearer tokens travel in plaintext on a non-loopback address: anyone on the path can read and reuse them; "+
			"set LOADSVC_TLS_CERT and LOADSVC_TLS_KEY, or terminate TLS in front of the service (mesh, proxy)",
			zap.String("listen", cfg.Listen))
	}
	return nil
}

// loopback reports whether every address listen binds is a loopback one:
// "127.0.0.1:50051", "[::1]:50051", "localhost:50051". An empty or
// unspecified host (":50051", "0.0.0.0:50051") or a name that resolves to
// any other address is not.
func loopback(ctx context.Context, listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return false
		}
	}
	return true
}
