// Package dsn finds and checks the database URL and redacts secrets.
//
// The service takes its database from the first of these that is set: the
// --database-url flag, LOADSVC_DATABASE_URL, DATABASE_URL, then libpq's
// PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE (which pgx reads itself). When
// none is set there is no database: Resolve reports ErrNotConfigured rather
// than falling back to a local default.
//
// Check parses a connection string the way the pool will, and its errors never
// carry the password. Redact, Password and RedactString keep passwords out of
// log lines and out of driver errors that might echo the connection string.
package dsn

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Source values of Resolved: where the connection string came from.
const (
	SourceFlag        = "--database-url"
	SourceLoadsvcEnv  = "LOADSVC_DATABASE_URL"
	SourceDatabaseEnv = "DATABASE_URL"
	SourcePGEnv       = "PG* environment"
)

// pgEnv lists the libpq variables of which any one, set, selects SourcePGEnv.
var pgEnv = []string{"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"}

// Resolved is the chosen connection string and where it came from.
//
// Source names where the URL came from, for logs: "--database-url",
// "LOADSVC_DATABASE_URL", "DATABASE_URL", "PG* environment", or "" when none.
type Resolved struct {
	// URL is the connection string to hand to pgxpool.ParseConfig. It is ""
	// with Source "PG* environment": pgx reads the libpq variables itself.
	URL    string
	Source string
}

// ErrNotConfigured means no source names a database.
var ErrNotConfigured = errors.New("no database configured: set --database-url, LOADSVC_DATABASE_URL, DATABASE_URL or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE")

// ErrInvalid is wrapped by every error Check returns.
var ErrInvalid = errors.New("invalid database URL")

// Resolve applies the contract's order: flagValue, LOADSVC_DATABASE_URL,
// DATABASE_URL, then any of libpq's PG* variables. Blank values are skipped.
// getenv is os.Getenv in production; nil means os.Getenv.
func Resolve(flagValue string, getenv func(string) string) (Resolved, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if !blank(flagValue) {
		return Resolved{URL: flagValue, Source: SourceFlag}, nil
	}
	for _, name := range []string{SourceLoadsvcEnv, SourceDatabaseEnv} {
		if v := getenv(name); !blank(v) {
			return Resolved{URL: v, Source: name}, nil
		}
	}
	for _, name := range pgEnv {
		if !blank(getenv(name)) {
			return Resolved{Source: SourcePGEnv}, nil
		}
	}
	return Resolved{}, ErrNotConfigured
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// Check parses url (a postgres:// or postgresql:// URL, a libpq keyword/value
// string, or "" for the PG* environment) with pgxpool.ParseConfig. Its errors
// wrap ErrInvalid, show the URL redacted and never contain the password, e.g.
//
//	invalid database URL "postgres://u:xxxxx@h:bad/db": invalid port
func Check(url string) (*pgxpool.Config, error) {
	if scheme, ok := foreignScheme(url); ok {
		return nil, fmt.Errorf("%w %q: unsupported scheme %q (want postgres:// or postgresql://)",
			ErrInvalid, Redact(url), scheme)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, checkError(url, err)
	}
	return cfg, nil
}

// foreignScheme reports a URL scheme other than postgres or postgresql.
func foreignScheme(s string) (string, bool) {
	scheme, _, ok := cutScheme(s)
	if !ok || scheme == "postgres" || scheme == "postgresql" {
		return "", false
	}
	return scheme, true
}

// checkError rebuilds a parse error from the redacted URL and pgx's reason,
// scrubbed of every password that could be in it.
func checkError(url string, err error) error {
	r := redact(url)
	secrets := append(r.secrets(), os.Getenv("PGPASSWORD"))
	reason := scrubQuoted(RedactString(causeText(err), secrets...), r.text)
	if url == "" {
		return fmt.Errorf("%w (%s): %s", ErrInvalid, SourcePGEnv, reason)
	}
	return fmt.Errorf("%w %q: %s", ErrInvalid, r.text, reason)
}

// causeText is the error's text without the connection string pgx quotes in
// a ParseConfigError (pgx redacts it only on a best-effort basis).
func causeText(err error) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	bare := *pe
	bare.ConnString = ""
	return strings.TrimPrefix(bare.Error(), "cannot parse ``: ")
}

var quoted = regexp.MustCompile(`"[^"]*"`)

// scrubQuoted masks each quoted fragment of reason that is not visible in the
// redacted URL and holds a letter or digit: it may be a piece of a password
// that a malformed string put where no redaction could recognise it.
func scrubQuoted(reason, redacted string) string {
	return quoted.ReplaceAllStringFunc(reason, func(q string) string {
		inner := q[1 : len(q)-1]
		if strings.Contains(redacted, inner) || !strings.ContainsFunc(inner, isAlnum) {
			return q
		}
		return `"` + mask + `"`
	})
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
