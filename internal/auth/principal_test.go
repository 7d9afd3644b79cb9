package auth_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/zap"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/loadsvc/loadsvc/internal/auth"
)

// digest is the principal the documentation promises a token without
// name=, computed here on its own: "token:" and 16 hex digits of SHA-256.
func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:])[:16]
}

// principalOf is the principal a authenticates tok as.
func principalOf(t *testing.T, a *auth.Authenticator, tok string) string {
	t.Helper()
	p, err := a.Authenticate(incoming("Bearer " + tok))
	if err != nil {
		t.Fatalf("token refused: %v", err)
	}
	return p.Name
}

// Issue 23: a token without name= is named by a digest of itself, not by
// its line. Two such tokens differ, neither principal holds its token, and
// removing the line before one (the documented revocation) leaves that
// one's principal as it was.
func TestUnnamedTokenPrincipals(t *testing.T) {
	t.Parallel()
	tokA, tokB := newToken(t, 24), newToken(t, 24)
	file := tokenFile(t, tokA+"\n"+tokB+"\n")
	a, logs := newAuth(t, file)
	pa, pb := principalOf(t, a, tokA), principalOf(t, a, tokB)
	if pa != digest(tokA) || pb != digest(tokB) {
		t.Errorf("principals %q, %q; want %q, %q", pa, pb, digest(tokA), digest(tokB))
	}
	if pa == pb {
		t.Errorf("two tokens share the principal %q", pa)
	}
	for _, p := range []string{pa, pb} {
		hexPart := strings.TrimPrefix(p, "token:")
		if strings.Contains(tokA, hexPart) || strings.Contains(tokB, hexPart) {
			t.Errorf("principal %q is part of a token", p)
		}
	}

	writeFile(t, file, tokB+"\n") // token A revoked: B is now on line 1
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	refused(t, a, tokA)
	if p := principalOf(t, a, tokB); p != pb {
		t.Errorf("B's principal moved from %q to %q when A's line went", pb, p)
	}
	loaded := logs.FilterMessage("auth tokens loaded").FilterField(zap.Strings("names", []string{pb}))
	if loaded.Len() != 1 {
		t.Errorf("want one 'auth tokens loaded' line naming %q, logs: %v", pb, logs.All())
	}
	noSecrets(t, logs, tokA, tokB)
}

// A client certificate's principal is its first URI SAN, else its first
// DNS SAN, else its subject CN, else a digest of its public key.
func TestCertIdentity(t *testing.T) {
	t.Parallel()
	spiffe, other := mustURL(t, "spiffe://loadsvc.test/worker-a"), mustURL(t, "spiffe://loadsvc.test/other")
	subject := pkix.Name{CommonName: "worker-cn"}
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"all three", &x509.Certificate{URIs: []*url.URL{spiffe, other}, DNSNames: []string{"a.loadsvc.test"}, Subject: subject}, "spiffe://loadsvc.test/worker-a"},
		{"DNS and CN", &x509.Certificate{DNSNames: []string{"b.loadsvc.test", "c.loadsvc.test"}, Subject: subject}, "b.loadsvc.test"},
		{"CN only", &x509.Certificate{Subject: subject}, "worker-cn"},
		{"none", &x509.Certificate{RawSubjectPublicKeyInfo: []byte("key")}, "cert:" + keyDigest("key")},
	} {
		if got := auth.CertIdentity(tc.cert); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if auth.CertIdentity(&x509.Certificate{RawSubjectPublicKeyInfo: []byte("key 2")}) == "cert:"+keyDigest("key") {
		t.Error("two keys without a name share a principal")
	}
}

func keyDigest(spki string) string {
	sum := sha256.Sum256([]byte(spki))
	return hex.EncodeToString(sum[:])[:16]
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// withPeerCert is ctx of a call whose TLS peer presented cert; verified
// says whether the handshake verified it against a client CA.
func withPeerCert(ctx context.Context, cert *x509.Certificate, verified bool) context.Context {
	state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	if verified {
		state.VerifiedChains = [][]*x509.Certificate{{cert}}
	}
	return peer.NewContext(ctx, &peer.Peer{AuthInfo: credentials.TLSInfo{State: state}})
}

// The token's principal wins; without a token, the verified client
// certificate's identity; an unverified certificate names no one.
func TestPrincipalName(t *testing.T) {
	t.Parallel()
	cert := &x509.Certificate{DNSNames: []string{"worker.loadsvc.test"}, Subject: pkix.Name{CommonName: "worker"}}
	token := auth.NewContext(context.Background(), auth.Principal{Name: "worker-a"})
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"unauthenticated", context.Background(), ""},
		{"token", token, "worker-a"},
		{"verified certificate", withPeerCert(context.Background(), cert, true), "worker.loadsvc.test"},
		{"unverified certificate", withPeerCert(context.Background(), cert, false), ""},
		{"token and certificate", withPeerCert(token, cert, true), "worker-a"},
		{"plaintext peer", peer.NewContext(context.Background(), &peer.Peer{}), ""},
	} {
		if got := auth.PrincipalName(tc.ctx); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
