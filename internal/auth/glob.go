package auth

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// glob is one compiled name pattern of an allowlist.
type glob struct {
	re *regexp.Regexp
}

// compileGlob checks pattern against path.Match's syntax and compiles it to
// an anchored regexp in which '*' and '?' match any character, '/' too.
func compileGlob(pattern string) (*glob, error) {
	if pattern == "" {
		return nil, fmt.Errorf("empty name pattern")
	}
	if !utf8.ValidString(pattern) {
		return nil, fmt.Errorf("pattern %q is not valid UTF-8", pattern)
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(pattern); {
		switch pattern[i] {
		case '*':
			b.WriteString(`.*`)
			i++
		case '?':
			b.WriteString(`.`)
			i++
		case '[':
			i = writeClass(&b, pattern, i+1)
		case '\\':
			i += 1 + writeLiteral(&b, pattern[i+1:])
		default:
			i += writeLiteral(&b, pattern[i:])
		}
	}
	b.WriteString(`)$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return &glob{re: re}, nil
}

// match reports whether the whole name matches.
func (g *glob) match(name string) bool { return g.re.MatchString(name) }

// writeLiteral writes the first character of s as a literal and returns
// its width.
func writeLiteral(b *strings.Builder, s string) int {
	r, w := utf8.DecodeRuneInString(s)
	b.WriteString(regexp.QuoteMeta(string(r)))
	return w
}

// writeClass translates the character class whose body starts at
// pattern[i] (after its '[') and returns the index after its ']'.
// path.Match has validated it: an unescaped '-' is a range operator, the
// first unescaped ']' ends it.
func writeClass(b *strings.Builder, pattern string, i int) int {
	b.WriteByte('[')
	if pattern[i] == '^' {
		b.WriteByte('^')
		i++
	}
	for pattern[i] != ']' {
		switch pattern[i] {
		case '-':
			b.WriteByte('-')
			i++
			continue
		case '\\':
			i++
		}
		r, w := utf8.DecodeRuneInString(pattern[i:])
		if r < utf8.RuneSelf && !isAlnum(byte(r)) {
			b.WriteByte('\\') // RE2: an escaped ASCII non-word character is itself
		}
		b.WriteRune(r)
		i += w
	}
	b.WriteByte(']')
	return i + 1
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
