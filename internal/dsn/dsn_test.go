package dsn

import (
	"errors"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolve(t *testing.T) {
	t.Parallel()
	all := map[string]string{
		"LOADSVC_DATABASE_URL": "postgres://loadsvc/db",
		"DATABASE_URL":         "postgres://database/db",
		"PGHOST":               "pghost",
	}
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want Resolved
	}{
		{"flag wins", "postgres://flag/db", all, Resolved{"postgres://flag/db", SourceFlag}},
		{"LOADSVC_DATABASE_URL over DATABASE_URL and PG*", "", all, Resolved{"postgres://loadsvc/db", SourceLoadsvcEnv}},
		{"DATABASE_URL over PG*", "", map[string]string{"DATABASE_URL": "host=d", "PGHOST": "h"}, Resolved{"host=d", SourceDatabaseEnv}},
		{"empty flag skipped", "", map[string]string{"DATABASE_URL": "host=d"}, Resolved{"host=d", SourceDatabaseEnv}},
		{"blank flag skipped", "  ", map[string]string{"LOADSVC_DATABASE_URL": "host=l"}, Resolved{"host=l", SourceLoadsvcEnv}},
		{"empty LOADSVC_DATABASE_URL skipped", "", map[string]string{"LOADSVC_DATABASE_URL": "", "DATABASE_URL": "host=d"}, Resolved{"host=d", SourceDatabaseEnv}},
		{"blank DATABASE_URL skipped", "", map[string]string{"DATABASE_URL": " \n", "PGUSER": "u"}, Resolved{"", SourcePGEnv}},
		{"PGHOST", "", map[string]string{"PGHOST": "h"}, Resolved{"", SourcePGEnv}},
		{"PGPORT", "", map[string]string{"PGPORT": "5433"}, Resolved{"", SourcePGEnv}},
		{"PGUSER", "", map[string]string{"PGUSER": "u"}, Resolved{"", SourcePGEnv}},
		{"PGPASSWORD", "", map[string]string{"PGPASSWORD": "pw"}, Resolved{"", SourcePGEnv}},
		{"PGDATABASE", "", map[string]string{"PGDATABASE": "d"}, Resolved{"", SourcePGEnv}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Resolve(tt.flag, env(tt.env))
			if err != nil || got != tt.want {
				t.Errorf("Resolve(%q) = %+v, %v; want %+v, nil", tt.flag, got, err, tt.want)
			}
		})
	}
}

func TestResolveNotConfigured(t *testing.T) {
	t.Parallel()
	for _, m := range []map[string]string{
		nil,
		{"PGHOST": "", "DATABASE_URL": " ", "PGSSLMODE": "disable", "PGAPPNAME": "x"},
	} {
		got, err := Resolve("", env(m))
		if !errors.Is(err, ErrNotConfigured) || got != (Resolved{}) {
			t.Errorf("Resolve with %v = %+v, %v; want ErrNotConfigured", m, got, err)
		}
	}
}

func TestCheckValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, host, user, password, database string
		port                                uint16
		maxConns                            int32
	}{
		{"postgres://u:pw@h:5433/db?pool_max_conns=7", "h", "u", "pw", "db", 5433, 7},
		{"postgresql://u:p%40ss@h/db?pool_max_conns=3", "h", "u", "p@ss", "db", 5432, 3},
		{`host=h port=5434 user=u password='a b\' c' dbname=d pool_max_conns=2`, "h", "u", "a b' c", "d", 5434, 2},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			cfg, err := Check(tt.url)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			c := cfg.ConnConfig
			got := [4]string{c.Host, c.User, c.Password, c.Database}
			if want := [4]string{tt.host, tt.user, tt.password, tt.database}; got != want || c.Port != tt.port {
				t.Errorf("config = %q port %d; want %q port %d", got, c.Port, want, tt.port)
			}
			if cfg.MaxConns != tt.maxConns {
				t.Errorf("MaxConns = %d, want %d", cfg.MaxConns, tt.maxConns)
			}
		})
	}
}

// secret is the password of every malformed URL below; no error may show it.
const secret = "Zq9Secret"

func TestCheckMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want string // a substring of the error
	}{
		{"postgres://u:Zq9Secret@h:bad/db", `invalid database URL "postgres://u:xxxxx@h:bad/db": invalid port`},
		{"postgres://u:Zq9Secret@h:99999/db", "invalid port"},
		{"postgres://u:Zq9Secret@h1:5432,h2:5433,h3/db?port=1,2", "could not match"},
		{"mysql://u:Zq9Secret@h/db", `"mysql://u:xxxxx@h/db": unsupported scheme "mysql"`},
		{"http://u:Zq9Secret@h/db", `unsupported scheme "http"`},
		{"postgres:/u:Zq9Secret@h/db", "invalid keyword/value"},
		{"host=h password='Zq9Secret port=5432", `"host=h xxxxx": failed to parse as keyword/value (unterminated quoted string`},
		{"host='h password=Zq9Secret", "unterminated quoted string"},
		{"password=Zq9Secret garbage", "invalid keyword/value"},
		{"password=Zq9Secret host=h port=bad", `"password=xxxxx host=h port=bad": invalid port`},
		{"u:Zq9Secret@h/db", `"xxxxx": failed to parse as keyword/value`},
		{"not a url", `"not a url": failed to parse as keyword/value (invalid keyword/value)`},
		{"postgres://u:Zq9 Secret@h/db", "unexpected spaces found in password"},
		{"postgres://u:Zq9Secret%zz@h/db", "invalid percent-encoded token in password"},
		{"postgres://u:Zq9/Secret@h/db", "invalid port"},
		{"postgres://u:Zq9?Secret@h:x/db", "invalid port"},
		{"postgres://u:Zq9Secret@[::1/db", "IPv6"},
		{"postgres://u@h/db?password=Zq9Secret&port=x", "invalid port"},
		{"postgres://u@h/db?password=Zq9%20Secret&sslmode=bogus", "sslmode is invalid"},
		{"postgres://u@h/db?password=Zq9Secret=", "extra key/value separator"},
		{"postgres://u:Zq9Secret@h/db?pool_max_conns=many", `cannot parse pool_max_conns (strconv.ParseInt: parsing "many": invalid syntax)`},
		{"postgres://u:Zq9Secret@h/db?pool_max_conns=0", "pool_max_conns too small"},
		{"postgres://u:Zq9%53ecret@h/db?connect_timeout=-1", "invalid connect_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			cfg, err := Check(tt.url)
			if err == nil {
				t.Fatalf("Check = %+v, nil; want an error", cfg)
			}
			msg := err.Error()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want ErrInvalid containing %q", msg, tt.want)
			}
			for _, piece := range []string{"Zq9", "Secret", "ecret"} {
				if strings.Contains(msg, piece) {
					t.Errorf("error %q leaks %q", msg, piece)
				}
			}
		})
	}
}

// TestCheckPGEnvironment sets the environment, so it cannot run in parallel.
func TestCheckPGEnvironment(t *testing.T) {
	t.Setenv("PGHOST", "envhost")
	t.Setenv("PGPASSWORD", "Env"+secret)
	t.Setenv("PGPORT", "5439")
	cfg, err := Check("")
	if err != nil {
		t.Fatalf("Check(\"\"): %v", err)
	}
	if c := cfg.ConnConfig; c.Host != "envhost" || c.Port != 5439 || c.Password != "Env"+secret {
		t.Errorf("config from PG* = %s:%d %q", c.Host, c.Port, c.Password)
	}
	if got := Password("", nil); got != "Env"+secret {
		t.Errorf("Password(\"\", nil) = %q, want PGPASSWORD", got)
	}
	if got := Password("postgres://h/db", nil); got != "Env"+secret {
		t.Errorf("Password without one = %q, want PGPASSWORD", got)
	}
	// The caller's getenv, not the process's environment, answers.
	if got := Password("postgres://h/db", func(string) string { return "" }); got != "" {
		t.Errorf("Password with a getenv that has no PGPASSWORD = %q, want \"\"", got)
	}
	if got := Password("", func(k string) string { return map[string]string{"PGPASSWORD": "Own"}[k] }); got != "Own" {
		t.Errorf("Password with a getenv's PGPASSWORD = %q, want \"Own\"", got)
	}

	t.Setenv("PGPORT", "bad")
	_, err = Check("")
	if err == nil || !strings.Contains(err.Error(), "(PG* environment): invalid port") {
		t.Fatalf("Check(\"\") with PGPORT=bad: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q leaks PGPASSWORD", err)
	}
}
