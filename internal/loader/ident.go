package loader

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxIdentLen is PostgreSQL's limit on identifier length in bytes (NAMEDATALEN-1).
const MaxIdentLen = 63

// CheckIdent reports why name cannot be a PostgreSQL identifier: empty, longer
// than MaxIdentLen bytes, holding a NUL byte or not valid UTF-8. Any other
// name is fine, because identifiers are always quoted.
func CheckIdent(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is empty")
	case len(name) > MaxIdentLen:
		return fmt.Errorf("%q is %d bytes long, longer than PostgreSQL's limit of %d", truncate(name), len(name), MaxIdentLen)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%q holds a NUL byte", strings.ReplaceAll(name, "\x00", `\0`))
	case !utf8.ValidString(name):
		return fmt.Errorf("%q is not valid UTF-8", name)
	}
	return nil
}

// QuoteIdent quotes name as a PostgreSQL identifier, doubling embedded quotes.
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteList quotes and joins names with ", ", each prefixed with prefix
// (an alias and a dot, or "").
func quoteList(prefix string, names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix)
		b.WriteString(QuoteIdent(n))
	}
	return b.String()
}

func truncate(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:80] + "…"
}

// QuoteNames quotes and joins names with ", ", for messages.
func QuoteNames(names []string) string { return quoteList("", names) }
