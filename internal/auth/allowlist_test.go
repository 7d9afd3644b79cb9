package auth_test

import (
	"path"
	"strings"
	"testing"

	"github.com/loadsvc/loadsvc/internal/auth"
)

func TestAllowlistMatches(t *testing.T) {
	t.Parallel()
	type tbl struct{ schema, table string }
	for _, tc := range []struct {
		list     string
		allow    []tbl
		disallow []tbl
	}{
		{"public.*",
			[]tbl{{"public", "demo_nav"}, {"public", "a.b"}, {"public", "a/b"}, {"public", "年金计划"}, {"public", "x y"}, {"public", "line\nbreak"}},
			[]tbl{{"Public", "demo_nav"}, {"staging", "demo_nav"}, {"public_x", "t"}, {"", "demo_nav"}}},
		{"staging.nav_?",
			[]tbl{{"staging", "nav_1"}, {"staging", "nav_年"}, {"staging", "nav_/"}},
			[]tbl{{"staging", "nav_"}, {"staging", "nav_12"}, {"staging", "NAV_1"}, {"public", "nav_1"}}},
		{"staging.nav.v2", // split at the first dot: the table holds a dot
			[]tbl{{"staging", "nav.v2"}},
			[]tbl{{"staging.nav", "v2"}, {"staging", "nav_v2"}, {"staging", "navxv2"}}},
		{"staging.*.v?", // '*' crosses dots
			[]tbl{{"staging", "nav.v2"}, {"staging", "a.b.c.v9"}},
			[]tbl{{"staging", "nav.v10"}}},
		{"年金.计划*",
			[]tbl{{"年金", "计划"}, {"年金", "计划2024"}},
			[]tbl{{"年金x", "计划"}, {"年金", "x计划"}}},
		{"*.*", []tbl{{"a", "b"}, {"public", "年"}, {"s.t", "u"}}, nil},
		{" public.demo_* , reports.[a-c]?[^0-9] ",
			[]tbl{{"public", "demo_nav"}, {"reports", "a1x"}, {"reports", "cxy"}},
			[]tbl{{"public", "nav"}, {"reports", "d1x"}, {"reports", "a11"}}},
		{`s.a\*b,s.[\-\]x]`, // escapes, outside and inside a class
			[]tbl{{"s", "a*b"}, {"s", "-"}, {"s", "]"}, {"s", "x"}},
			[]tbl{{"s", "axb"}, {"s", `\`}, {"s", "y"}}},
		{"s.a+b(c)|d$", []tbl{{"s", "a+b(c)|d$"}}, []tbl{{"s", "aab(c)"}, {"s", "abc"}}}, // regexp metacharacters are literal
	} {
		a, err := auth.ParseAllowlist(tc.list)
		if err != nil {
			t.Fatalf("ParseAllowlist(%q): %v", tc.list, err)
		}
		for _, x := range tc.allow {
			if !a.Allows(x.schema, x.table) {
				t.Errorf("%q does not allow %q.%q", tc.list, x.schema, x.table)
			}
		}
		for _, x := range tc.disallow {
			if a.Allows(x.schema, x.table) {
				t.Errorf("%q allows %q.%q", tc.list, x.schema, x.table)
			}
		}
		if a.String() != tc.list {
			t.Errorf("String() = %q, want %q", a.String(), tc.list)
		}
	}
}

// Without '/', a part matches exactly as path.Match says.
func TestAllowlistAgreesWithPathMatch(t *testing.T) {
	t.Parallel()
	patterns := []string{"*", "?", "a*", "*a", "a?c", "[abc]", "[^abc]", "[a-c]x", "[^a-c]*", `\*`, `a\?`, "*.*", "年*", "?金", "[年金]", "**b", "a*b*c"}
	names := []string{"", "a", "b", "abc", "axc", "ab", "*", "?", "a?", "x", "bx", "dx", "a.b", "年", "金", "年金", "aXbYc", "ac", "-"}
	for _, p := range patterns {
		a, err := auth.ParseAllowlist("s." + p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		for _, n := range names {
			want, _ := path.Match(p, n)
			if got := a.Allows("s", n); got != want {
				t.Errorf("pattern %q, name %q: Allows %v, path.Match %v", p, n, got, want)
			}
		}
	}
}

func TestParseAllowlistErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", " ", "public", "public.", ".demo", "public.*,", ",public.*", "public.*,,x.y",
		"public.[", "public.[]", "public.[^]", "public.a\\", "[.x", "public.[a-]", "s.\xff",
	} {
		if a, err := auth.ParseAllowlist(s); err == nil {
			t.Errorf("ParseAllowlist(%q) = %v, want an error", s, a)
		}
	}
	_, err := auth.ParseAllowlist("public.*,nodot")
	if err == nil || !strings.Contains(err.Error(), `"nodot"`) || !strings.Contains(err.Error(), "entry 2") {
		t.Errorf("error %v should name entry 2 and the pattern", err)
	}
}

func TestNilAllowlistAllowsAll(t *testing.T) {
	t.Parallel()
	var a *auth.Allowlist
	if !a.Allows("any", "table") || a.String() != "" {
		t.Error("nil allowlist should allow everything")
	}
}
