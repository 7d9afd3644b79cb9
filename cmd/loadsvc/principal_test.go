package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// navDDL is a table of jsonRows' columns without a key, where a second
// copy of the rows would show.
const navDDL = `(id int, plan_code text, nav numeric(18,4), note text)`

// appendRequest is an append of jsonRows(first, 3) to table with request
// id id.
func appendRequest(t *testing.T, table, id string, first int) *loadsvcv1.LoadRequest {
	t.Helper()
	return &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: table, Mode: loadsvcv1.Mode_MODE_APPEND, RequestId: id},
		Rows: jsonRows(t, first, 3)}
}

// ledgerIDs are the request ids the ledger of the database at url holds,
// as it records them (scoped by principal).
func ledgerIDs(t *testing.T, url string) []string {
	t.Helper()
	return testenv.Texts(t, testenv.NewPool(t, url, 1), `SELECT request_id FROM loadsvc.load_ledger ORDER BY 1`)
}

// scoped is a request id as the ledger records it for principal.
func scoped(principal, id string) string {
	return (&loader.Config{Principal: principal, RequestID: id}).LedgerKey()
}

// Issue 23: token A on line 1, token B on line 2, neither named. A's line
// is removed, the documented way to revoke it, and the watched file
// reloads: B, now on line 1, keeps its own request ids. Its job-1 with
// A's very payload is its own load (not A's result replayed), its job-2
// on another table is no conflict naming A's table, and no token reaches
// the ledger or the log.
func TestRemovedLineKeepsRequestIDsApart(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	adminExec(t, url, `CREATE TABLE a `+navDDL+`; CREATE TABLE b `+navDDL)
	const tokA, tokB = "tok-a-0123456789abcdef", "tok-b-0123456789abcdef"
	tokens := writeTokens(t, tokA+"\n"+tokB+"\n")
	p := start(t, []string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_AUTH_TOKENS_FILE=" + tokens, "LOADSVC_RELOAD_INTERVAL=100ms"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range []string{"job-1", "job-2"} {
		if resp, err := p.client.Load(withToken(ctx, tokA), appendRequest(t, "a", id, 0)); err != nil || resp.Replayed {
			t.Fatalf("A's %s: %v %v", id, resp, err)
		}
	}

	replaceFile(t, tokens, tokB+"\n")
	removed := time.Now()
	for { // until the reload: A's retries replay meanwhile, writing nothing
		_, err := p.client.Load(withToken(ctx, tokA), appendRequest(t, "a", "job-1", 0))
		if status.Code(err) == codes.Unauthenticated {
			break
		}
		if err != nil || time.Since(removed) > 10*time.Second {
			t.Fatalf("A's token, %v after its line was removed: %v; want UNAUTHENTICATED", time.Since(removed), err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	resp, err := p.client.Load(withToken(ctx, tokB), appendRequest(t, "a", "job-1", 0))
	if err != nil || resp.Replayed || resp.Inserted != 3 {
		t.Errorf("B's job-1, with A's payload: %v %v; want B's own load, 3 rows inserted", resp, err)
	}
	resp, err = p.client.Load(withToken(ctx, tokB), appendRequest(t, "b", "job-2", 100))
	if err != nil || resp.Replayed || resp.Inserted != 3 {
		t.Errorf("B's job-2 on table b: %v %v; want B's own load, 3 rows inserted", resp, err)
	}
	if resp, err := p.client.Load(withToken(ctx, tokB), appendRequest(t, "a", "job-1", 0)); err != nil || !resp.Replayed {
		t.Errorf("B's retry of its job-1: %v %v; want its own result replayed", resp, err)
	}
	if n := adminCount(t, url, `SELECT count(*) FROM a`); n != 9 {
		t.Errorf("table a has %d rows, want 9: A's two loads and B's job-1", n)
	}
	if n := adminCount(t, url, `SELECT count(*) FROM b`); n != 3 {
		t.Errorf("table b has %d rows, want 3", n)
	}

	pa, pb := tokenDigest(tokA), tokenDigest(tokB)
	want := []string{scoped(pa, "job-1"), scoped(pa, "job-2"), scoped(pb, "job-1"), scoped(pb, "job-2")}
	slices.Sort(want)
	if got := ledgerIDs(t, url); !slices.Equal(got, want) {
		t.Errorf("ledger ids %q, want %q", got, want)
	}
	out := p.out.String()
	if strings.Contains(out, tokA) || strings.Contains(out, tokB) {
		t.Error("a token reached the log")
	}
	if !strings.Contains(out, `"principal":"`+pb+`"`) {
		t.Errorf("no access log line names B's principal %q", pb)
	}
}

// tokenDigest is the principal the README promises a token without name=.
func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:])[:16]
}

// Issue 23: with mutual TLS and no tokens, a client's principal is its
// certificate's identity — the URI SAN, else the DNS SAN, else the CN —
// so clients with different certificates keep their request ids apart,
// and two certificates of one identity (a renewal) share theirs.
func TestClientCertificatePrincipals(t *testing.T) {
	t.Parallel()
	db := cluster.NewDatabase(t)
	adminExec(t, db, `CREATE TABLE a `+navDDL)
	ca := testenv.NewCA(t, "loadsvc test CA")
	certFile, keyFile, caFile := ca.ServerFiles(t, t.TempDir())
	spiffe, err := url.Parse("spiffe://loadsvc.test/worker-u")
	if err != nil {
		t.Fatal(err)
	}
	clients := []struct {
		cert      *x509.Certificate
		principal string
	}{
		{&x509.Certificate{URIs: []*url.URL{spiffe}, DNSNames: []string{"u.loadsvc.test"}, Subject: pkix.Name{CommonName: "worker-u"}}, "spiffe://loadsvc.test/worker-u"},
		{&x509.Certificate{DNSNames: []string{"d.loadsvc.test"}, Subject: pkix.Name{CommonName: "worker-d"}}, "d.loadsvc.test"},
		{&x509.Certificate{Subject: pkix.Name{CommonName: "worker-c"}}, "worker-c"},
		{&x509.Certificate{Subject: pkix.Name{CommonName: "worker-c", Organization: []string{"renewed"}}}, "worker-c"},
	}
	dialTLS := func(tmpl *x509.Certificate) grpc.DialOption {
		cfg := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.ClientCert(t, tmpl)}, MinVersion: tls.VersionTLS12}
		return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	}
	addr := testenv.FreeAddr(t)
	p := launch(t, addr, addr, []grpc.DialOption{dialTLS(&x509.Certificate{Subject: pkix.Name{CommonName: "health"}})},
		[]string{"LOADSVC_DATABASE_URL=" + db, "LOADSVC_TLS_CERT=" + certFile, "LOADSVC_TLS_KEY=" + keyFile, "LOADSVC_TLS_CLIENT_CA=" + caFile})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, c := range clients {
		_, client := dial(t, p.addr, dialTLS(c.cert))
		resp, err := client.Load(ctx, appendRequest(t, "a", "job-1", 0))
		if replay := i == 3; err != nil || resp.Replayed != replay {
			t.Errorf("%s's job-1: %v %v; want replayed %v", c.principal, resp, err, replay)
		}
	}
	if n := adminCount(t, db, `SELECT count(*) FROM a`); n != 9 {
		t.Errorf("table a has %d rows, want 9: one job-1 of each of three identities", n)
	}
	var want []string
	for _, c := range clients[:3] {
		want = append(want, scoped(c.principal, "job-1"))
	}
	slices.Sort(want)
	if got := ledgerIDs(t, db); !slices.Equal(got, want) {
		t.Errorf("ledger ids %q, want %q", got, want)
	}
}
