package dsn

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"postgres://u:pw@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"postgresql://u:pw@h/db?sslmode=disable", "postgresql://u:xxxxx@h/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db", "postgres://h/db"},
		{"postgres://u:@h/db", "postgres://u:@h/db"},
		{"postgres://u:p%40ss%2Fw%3Ard%20@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:pw@h1:5432,h2:5433/db?pool_max_conns=4", "postgres://u:xxxxx@h1:5432,h2:5433/db?pool_max_conns=4"},
		{"postgres://u:pw@[::1]:5432/db", "postgres://u:xxxxx@[::1]:5432/db"},
		{"postgres://h/db?password=pw&sslmode=disable", "postgres://h/db?password=xxxxx&sslmode=disable"},
		{"postgres://u:a@h/db?sslpassword=k&password=b", "postgres://u:xxxxx@h/db?sslpassword=xxxxx&password=xxxxx"},
		{"postgres://h/db?pass%77ord=pw", "postgres://h/db?pass%77ord=xxxxx"},
		{"postgres://h/db?password=", "postgres://h/db?password="},
		{"postgres://u:pw@h/db?application_name=a@b", "postgres://u:xxxxx@h/db?application_name=a@b"},
		// Unencoded '@', '/', '?' or ':' in the password: malformed or
		// ambiguous, so everything up to the last '@' is masked.
		{"postgres://u:p@ss@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:pa/ss@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:1234/word@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:pa?ss@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:pa:ss@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:pw@h:bad/db", "postgres://u:xxxxx@h:bad/db"},
		{"mysql://u:pw@h/db", "mysql://u:xxxxx@h/db"},
		{"host=h password=pw dbname=d", "host=h password=xxxxx dbname=d"},
		{"host=h  password = pw\tdbname=d", "host=h  password = xxxxx\tdbname=d"},
		{`host=h password='a b\' c' user=u`, "host=h password=xxxxx user=u"},
		{`password=a\ b host=h`, "password=xxxxx host=h"},
		{"password='' host=h", "password='' host=h"},
		{"host=h sslpassword=k", "host=h sslpassword=xxxxx"},
		{"host='a b' options='-c x=y'", "host='a b' options='-c x=y'"},
		// Malformed keyword/value strings: the rest is masked when a
		// password may be in it.
		{"host=h password='unterminated", "host=h xxxxx"},
		{"host='h password=pw", "xxxxx"},
		{"password=a b", "password=xxxxx xxxxx"},
		{"postgres:/u:pw@h/db", "xxxxx"},
		{"host=h junk", "host=h junk"},
		{"garbage", "garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://u:pw@h/db", "pw"},
		{"postgresql://u:p%40ss%2Fw%3Ard@h/db", "p@ss/w:rd"},
		{"postgres://u@h/db?password=q%26r", "q&r"},
		{"postgres://u:a@h/db?password=b", "b"},
		{"postgres://u:a@h/db?sslpassword=k", "a"},
		{"host=h password=pw", "pw"},
		{`host=h password='a b\' c'`, "a b' c"},
		{`password=a\ b\\c`, `a b\c`},
		{"password=a host=h password=b", "b"},
		{"host=h sslpassword=k password=p", "p"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := Password(tt.in, nil); got != tt.want {
				t.Errorf("Password(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// Where pgx parses the string, it must agree.
			if cfg, err := pgconn.ParseConfig(tt.in); err == nil && cfg.Password != tt.want {
				t.Errorf("pgx reads password %q, want %q", cfg.Password, tt.want)
			}
		})
	}
}

func TestRedactString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		secrets []string
		want    string
	}{
		{"dial u:pw@h: refused", []string{"pw"}, "dial u:xxxxx@h: refused"},
		{"no secrets", nil, "no secrets"},
		{"empty secret ignored", []string{""}, "empty secret ignored"},
		{"abcabc and abc", []string{"abc", "abcabc"}, "xxxxx and xxxxx"},
		{"p@ss and p%40ss", []string{"p@ss", "p%40ss"}, "xxxxx and xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := RedactString(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("RedactString(%q, %q) = %q, want %q", tt.in, tt.secrets, got, tt.want)
			}
		})
	}
}

// TestRedactHidesPassword checks every password-bearing form against the
// password pgx itself would use.
func TestRedactHidesPassword(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"postgres://u:Zq9Secret@h/db",
		"postgres://u:Zq9%53ecret@h/db",
		"postgres://h/db?password=Zq9Secret",
		"host=h password=Zq9Secret",
		"host=h password='Zq9 Secret'",
		`host=h password=Zq9\ Secret`,
	} {
		cfg, err := pgconn.ParseConfig(in)
		if err != nil {
			t.Fatalf("pgx cannot parse %q: %v", in, err)
		}
		got := Redact(in)
		for _, s := range []string{cfg.Password, "Zq9", "ecret"} {
			if strings.Contains(got, s) {
				t.Errorf("Redact(%q) = %q leaks %q", in, got, s)
			}
		}
	}
}
