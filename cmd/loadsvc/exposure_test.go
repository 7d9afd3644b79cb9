package main

import (
	"context"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

func TestLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:50051": true, "127.8.9.10:1": true, "[::1]:50051": true, "localhost:50051": true,
		":50051": false, "0.0.0.0:50051": false, "[::]:50051": false, "10.1.2.3:50051": false,
		"192.0.2.1:1": false, "no-port": false, "": false,
	} {
		if got := loopback(context.Background(), addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// checkExposure for every combination that matters: what refuses, what
// warns, what passes silently.
func TestCheckExposure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   config
		fails bool
		warns string
	}{
		{"loopback, nothing", config{Listen: "127.0.0.1:50051"}, false, ""},
		{"all interfaces, nothing", config{Listen: "0.0.0.0:50051"}, true, ""},
		{"empty host, nothing", config{Listen: ":50051"}, true, ""},
		{"allowed unauthenticated", config{Listen: "0.0.0.0:50051", AllowUnauthenticated: true}, false, "without authentication"},
		{"tokens in plaintext", config{Listen: "0.0.0.0:50051", TokensFile: "/t"}, false, "plaintext"},
		{"tokens over TLS", config{Listen: "0.0.0.0:50051", TokensFile: "/t", TLSCert: "/c", TLSKey: "/k"}, false, ""},
		{"client certificates", config{Listen: "0.0.0.0:50051", TLSCert: "/c", TLSKey: "/k", TLSClientCA: "/ca"}, false, ""},
	} {
		core, logs := observer.New(zapcore.DebugLevel)
		err := checkExposure(context.Background(), &tc.cfg, zap.New(core))
		if (err != nil) != tc.fails {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil {
			for _, remedy := range []string{tc.cfg.Listen, "LOADSVC_AUTH_TOKENS_FILE", "LOADSVC_TLS_CLIENT_CA", "loopback", "LOADSVC_ALLOW_UNAUTHENTICATED=true", "--allow-unauthenticated"} {
				if !strings.Contains(err.Error(), remedy) {
					t.Errorf("%s: the refusal does not name %s: %v", tc.name, remedy, err)
				}
			}
		}
		warned := ""
		for _, e := range logs.FilterLevelExact(zapcore.WarnLevel).All() {
			warned += e.Message
		}
		if (tc.warns == "") != (warned == "") || !strings.Contains(warned, tc.warns) {
			t.Errorf("%s: warned %q, want a warning with %q", tc.name, warned, tc.warns)
		}
	}
}

// allInterfaces is a listen address on every interface with a free port,
// and the loopback address that reaches it.
func allInterfaces(t *testing.T) (listen, addr string) {
	t.Helper()
	_, port, err := net.SplitHostPort(testenv.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("0.0.0.0", port), net.JoinHostPort("127.0.0.1", port)
}

// Issue 10 #8: the service refuses to start on every interface without
// tokens or client certificates, naming the remedies, and listens on
// nothing; it starts when told LOADSVC_ALLOW_UNAUTHENTICATED=true (or
// --allow-unauthenticated), with a warning.
func TestOpenListenerRefusesToStart(t *testing.T) {
	t.Parallel()
	listen, addr := allInterfaces(t)
	out := &testenv.SyncBuffer{}
	err := realMain(context.Background(), []string{"--listen", listen}, environ(nil), out)
	if err == nil || !strings.Contains(err.Error(), "LOADSVC_ALLOW_UNAUTHENTICATED=true") {
		t.Fatalf("realMain: %v, want a refusal naming the remedy", err)
	}
	if lis, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("the refused service holds its port: %v", err)
	} else {
		lis.Close()
	}
	for _, opt := range [][]string{{"LOADSVC_ALLOW_UNAUTHENTICATED=true"}, {"", "--allow-unauthenticated"}} {
		listen, addr := allInterfaces(t)
		p := startOn(t, listen, addr, opt[:1], opt[1:]...)
		_, err := p.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true}, Rows: jsonRows(t, 0, 1)})
		if err != nil {
			t.Errorf("%v: plan: %v", opt, err)
		}
		if !strings.Contains(p.out.String(), "without authentication") {
			t.Errorf("%v: no warning:\n%s", opt, p.out)
		}
	}
	err = realMain(context.Background(), []string{"--listen", listen}, environ([]string{"LOADSVC_ALLOW_UNAUTHENTICATED=yes please"}), out)
	if err == nil || !strings.Contains(err.Error(), "LOADSVC_ALLOW_UNAUTHENTICATED") {
		t.Errorf("a malformed LOADSVC_ALLOW_UNAUTHENTICATED: %v", err)
	}
}

// Tokens on every interface without TLS: the service starts, warns that
// the tokens travel in plaintext, and refuses a call without a token.
func TestTokensInPlaintextWarn(t *testing.T) {
	t.Parallel()
	listen, addr := allInterfaces(t)
	p := startOn(t, listen, addr, []string{"LOADSVC_AUTH_TOKENS_FILE=" + writeTokens(t, "tok-0123456789abcdef-secret name=worker-a\n")})
	_, err := p.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true}, Rows: jsonRows(t, 0, 1)})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("no token: %v", err)
	}
	if !strings.Contains(p.out.String(), "bearer tokens travel in plaintext") {
		t.Errorf("no plaintext warning:\n%s", p.out)
	}
}
