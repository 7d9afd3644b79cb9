package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Allowlist is a set of schema.table patterns; a table is allowed when one
// pattern matches it. The nil *Allowlist allows every table.
type Allowlist struct {
	src   string
	rules []rule
}

// rule is one schema.table pattern, its two parts compiled apart.
type rule struct {
	schema, table *glob
}

// ParseAllowlist parses a comma-separated list of schema.table patterns
// (see the package documentation), such as "public.*,staging.nav_?".
// Spaces around a pattern are ignored; an empty list, an empty entry, or a
// pattern without a dot or with an empty part is an error.
func ParseAllowlist(s string) (*Allowlist, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("table allowlist: empty; give schema.table patterns such as public.*")
	}
	a := &Allowlist{src: s}
	for i, p := range strings.Split(s, ",") {
		r, err := parseRule(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("table allowlist entry %d: %w", i+1, err)
		}
		a.rules = append(a.rules, r)
	}
	return a, nil
}

// parseRule splits one pattern at its first dot; the table part may hold
// further dots, a table name may.
func parseRule(p string) (rule, error) {
	if p == "" {
		return rule{}, errors.New("empty pattern")
	}
	schema, table, ok := strings.Cut(p, ".")
	if !ok || schema == "" || table == "" {
		return rule{}, fmt.Errorf("%q is not schema.table (for every table of a schema write schema.*)", p)
	}
	sg, err := compileGlob(schema)
	if err != nil {
		return rule{}, fmt.Errorf("schema of %q: %w", p, err)
	}
	tg, err := compileGlob(table)
	if err != nil {
		return rule{}, fmt.Errorf("table of %q: %w", p, err)
	}
	return rule{schema: sg, table: tg}, nil
}

// Allows reports whether schema.table matches a pattern. The schema is
// taken as given: Policy resolves an empty one first.
func (a *Allowlist) Allows(schema, table string) bool {
	if a == nil {
		return true
	}
	for _, r := range a.rules {
		if r.schema.match(schema) && r.table.match(table) {
			return true
		}
	}
	return false
}

// String returns the list as it was parsed ("" for nil: everything).
func (a *Allowlist) String() string {
	if a == nil {
		return ""
	}
	return a.src
}
