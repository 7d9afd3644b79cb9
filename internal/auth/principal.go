package auth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Principal is the caller an accepted token stands for.
type Principal struct {
	// Name is the token's name= attribute, or "token:" and the first 16
	// hex digits of the token's SHA-256 when it has none (see
	// tokenPrincipal); it is safe to log. Several tokens may share it.
	Name string
	// Tables, when not nil, limits the caller to these tables on top of
	// the service's allowlist.
	Tables *Allowlist
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal the interceptors put in ctx; ok is
// false when the call was not authenticated by a token (tokens off, or an
// exempt method such as health).
func FromContext(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// PrincipalName is the name of the caller of ctx; it has the signature of
// server.Options.Principal and scopes request ids, logs and errors. It is
// the token's principal when a token authenticated the call (tokens that
// share a name, a rotation, are one principal), else the identity of the
// client certificate that mutual TLS verified (certIdentity), else "".
// It never depends on where a token's line is in the file.
func PrincipalName(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok {
		return p.Name
	}
	if c := verifiedClientCert(ctx); c != nil {
		return certIdentity(c)
	}
	return ""
}

// principalHex is how many hex digits of a SHA-256 a digest principal
// keeps: 64 bits, so that two tokens (or keys) share one with negligible
// odds.
const principalHex = 16

// tokenPrincipal is the principal of a token without name=, from h, the
// token's SHA-256: "token:" and h's first 16 hex digits. It stays the same
// wherever the token's line moves, differs between tokens, and is not the
// token.
func tokenPrincipal(h [sha256.Size]byte) string {
	return "token:" + hex.EncodeToString(h[:])[:principalHex]
}

// certIdentity is the principal of a client certificate: its first URI
// SAN (a SPIFFE id, say), else its first DNS SAN, else its subject CN.
// A certificate with none of them is "cert:" and the first 16 hex digits
// of the SHA-256 of its public key, which a renewal with the same key
// keeps.
func certIdentity(c *x509.Certificate) string {
	switch {
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	case c.Subject.CommonName != "":
		return c.Subject.CommonName
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "cert:" + hex.EncodeToString(sum[:])[:principalHex]
}

// verifiedClientCert is the client certificate of ctx's connection that
// the TLS handshake verified against the client CA, or nil (no TLS, or no
// client CA configured).
func verifiedClientCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}
