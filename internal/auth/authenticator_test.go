package auth_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/auth"
	"github.com/loadsvc/loadsvc/internal/testenv"
)

func TestTokenFileFormat(t *testing.T) {
	t.Parallel()
	a1, a2, b, c := newToken(t, 24), newToken(t, 24), newToken(t, 16), newToken(t, 32)
	file := tokenFile(t, "\ufeff# loadsvc tokens\r\n"+
		"\r\n"+
		"   # indented comment\n"+
		a1+" name=worker-a tables=public.*,staging.nav_*\r\n"+
		a2+"\tname=worker-a   # the rotated token of worker-a\n"+
		b+"\n"+
		"  "+c+" tables=年金.* name=报表 #trailing comment\n")
	a, logs := newAuth(t, file)
	for _, tc := range []struct {
		token, name, tables string
	}{
		{a1, "worker-a", "public.*,staging.nav_*"},
		{a2, "worker-a", ""},
		{b, digest(b), ""},
		{c, "报表", "年金.*"},
	} {
		p, err := a.Authenticate(incoming("Bearer " + tc.token))
		if err != nil {
			t.Fatalf("token of %s: %v", tc.name, err)
		}
		if p.Name != tc.name || p.Tables.String() != tc.tables {
			t.Errorf("principal %q tables %q, want %q tables %q", p.Name, p.Tables.String(), tc.name, tc.tables)
		}
	}
	noSecrets(t, logs, a1, a2, b, c)
	if n := logs.FilterMessage("auth tokens loaded").FilterField(zap.Int("tokens", 4)).Len(); n != 1 {
		t.Errorf("want one 'auth tokens loaded' line with tokens=4, logs: %v", logs.All())
	}
}

func TestTokenFileErrors(t *testing.T) {
	t.Parallel()
	secret, secret2 := newToken(t, 20), newToken(t, 20)
	for name, content := range map[string]string{
		"empty":                    "",
		"only comments":            "# nothing\n\n   \n",
		"attribute first":          "name=worker " + secret,
		"unknown attribute":        secret + " table=public.*",
		"two tokens on a line":     secret + " " + secret2,
		"token given twice":        secret + " name=a\n" + secret + " name=b\n",
		"empty tables":             secret + " tables=",
		"empty name":               secret + " name=",
		"tables without dot":       secret + " tables=public",
		"space in tables":          secret + " tables=public.*, staging.*",
		"name twice":               secret + " name=a name=b",
		"non-ASCII token":          "é" + secret,
		"unprintable name":         secret + " name=a\x01b",
		"attribute with '=' token": secret + " " + secret2 + "==",
	} {
		_, err := auth.NewAuthenticator(tokenFile(t, content), nil)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret2) {
			t.Errorf("%s: error %q holds a token", name, err)
		}
	}
	for _, file := range []string{"", "/nonexistent/tokens"} {
		if _, err := auth.NewAuthenticator(file, nil); err == nil {
			t.Errorf("NewAuthenticator(%q) succeeded", file)
		}
	}
}

// Every token maps to its own principal, and only the exact token does:
// the constant-time search must neither stop early nor pick a neighbour.
func TestAuthenticateExactMatch(t *testing.T) {
	t.Parallel()
	tokens := []string{newToken(t, 24), newToken(t, 10), newToken(t, 64), "short-tok", newToken(t, 24)}
	var file strings.Builder
	for i, tok := range tokens {
		file.WriteString(tok + " name=t" + string(rune('0'+i)) + "\n")
	}
	a, logs := newAuth(t, tokenFile(t, file.String()))
	for i, tok := range tokens {
		p, err := a.Authenticate(incoming("Bearer " + tok))
		if err != nil || p.Name != "t"+string(rune('0'+i)) {
			t.Errorf("token %d: principal %q, err %v", i, p.Name, err)
		}
	}
	first := tokens[0]
	for _, bad := range []string{
		first[:len(first)-1], first + "0", strings.ToUpper(first), " " + tokens[3] + "x", tokens[1] + tokens[1],
		tokens[2][:32], "x", newToken(t, 24),
	} {
		_, err := a.Authenticate(incoming("Bearer " + bad))
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("a wrong token gave %v, want UNAUTHENTICATED", err)
		}
		if strings.Contains(status.Convert(err).Message(), bad) {
			t.Errorf("message %q holds the presented token", status.Convert(err).Message())
		}
	}
	if n := logs.FilterMessageSnippet("auth token is short").Len(); n != 1 {
		t.Errorf("%d short-token warnings, want 1", n)
	}
	noSecrets(t, logs, tokens...)
}

func TestBearerMetadata(t *testing.T) {
	t.Parallel()
	tok := newToken(t, 24)
	a, logs := newAuth(t, tokenFile(t, tok+"\n"))
	for _, ok := range [][]string{{"Bearer " + tok}, {"bearer " + tok}, {"BEARER  " + tok + " "}} {
		if _, err := a.Authenticate(incoming(ok...)); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range [][]string{
		nil, {""}, {"Bearer"}, {"Bearer "}, {tok}, {"Basic " + tok}, {"Bearer" + tok},
		{"Bearer " + tok, "Bearer " + tok},
	} {
		_, err := a.Authenticate(incoming(bad...))
		if status.Code(err) != codes.Unauthenticated || strings.Contains(err.Error(), tok) {
			t.Errorf("%q: %v, want UNAUTHENTICATED without the token", bad, err)
		}
	}
	if _, err := a.Authenticate(context.Background()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no metadata: %v", err)
	}
	noSecrets(t, logs, tok)
}

func TestReloadRotatesTokens(t *testing.T) {
	t.Parallel()
	oldTok, newTok := newToken(t, 24), newToken(t, 24)
	file := tokenFile(t, oldTok+" name=worker\n")
	a, logs := newAuth(t, file)
	valid(t, a, oldTok)

	writeFile(t, file, oldTok+" name=worker\n"+newTok+" name=worker\n")
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	valid(t, a, oldTok, newTok)

	writeFile(t, file, newTok+" name=worker\n")
	valid(t, a, oldTok) // nothing reloads without Reload or Watch
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	valid(t, a, newTok)
	refused(t, a, oldTok)
	noSecrets(t, logs, oldTok, newTok)
}

func TestFailedReloadKeepsTokens(t *testing.T) {
	t.Parallel()
	tok, other := newToken(t, 24), newToken(t, 24)
	file := tokenFile(t, tok+"\n")
	a, logs := newAuth(t, file)
	writeFile(t, file, other+" tables=nodot\n")
	err := a.Reload()
	if err == nil || !strings.Contains(err.Error(), "line 1") || strings.Contains(err.Error(), other) {
		t.Fatalf("Reload of a bad file: %v; want an error naming line 1 without the token", err)
	}
	valid(t, a, tok)
	refused(t, a, other)
	noSecrets(t, logs, tok, other)
}

func TestWatchReloadsOnChange(t *testing.T) {
	t.Parallel()
	oldTok, newTok := newToken(t, 24), newToken(t, 24)
	file := tokenFile(t, oldTok+"\n")
	a, logs := newAuth(t, file)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.Watch(ctx, 5*time.Millisecond) })
	defer func() { cancel(); wg.Wait() }()

	writeFile(t, file, "# every token revoked by mistake\n")
	testenv.WatchOpens(t, file).Wait(t, 5) // five polls of the same bad file, at least
	valid(t, a, oldTok)
	if n := logs.FilterMessageSnippet("auth token reload failed").Len(); n != 1 {
		t.Errorf("%d reload failures logged, want 1 for one bad file", n)
	}

	writeFile(t, file, newTok+"\n")
	testenv.WaitUntil(t, 20*time.Second, "Watch loaded the new token", func() bool { return authenticates(a, newTok) })
	refused(t, a, oldTok)
	noSecrets(t, logs, oldTok, newTok)
}

func authenticates(a *auth.Authenticator, tok string) bool {
	_, err := a.Authenticate(incoming("Bearer " + tok))
	return err == nil
}

func valid(t *testing.T, a *auth.Authenticator, tokens ...string) {
	t.Helper()
	for i, tok := range tokens {
		if !authenticates(a, tok) {
			t.Errorf("token %d refused", i)
		}
	}
}

func refused(t *testing.T, a *auth.Authenticator, tok string) {
	t.Helper()
	if authenticates(a, tok) {
		t.Error("a removed token is still accepted")
	}
}
