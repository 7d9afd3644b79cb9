package dsn

import (
	"os"
	"regexp"
	"slices"
	"strings"
)

// mask replaces every password in redacted text.
const mask = "xxxxx"

// spaces are the characters libpq skips between keyword/value pairs.
const spaces = " \t\n\r\v\f"

// Redact returns s with every password replaced by "xxxxx", fit for logs: the
// userinfo password of a URL, password-like query parameters, and
// password-like keywords of a keyword/value string, quoted or not. Where s is
// malformed, so that a password could hide beyond the recognised places, it
// masks more rather than less.
func Redact(s string) string {
	return redact(s).text
}

// Password returns the password a connection string carries (a URL's userinfo
// or password parameter, or a keyword/value password; the last one wins, as
// in pgx), or getenv's PGPASSWORD when it carries none, so that callers can
// scrub it from error texts. getenv is the one Resolve was given; nil means
// os.Getenv.
func Password(s string, getenv func(string) string) string {
	if pw := redact(s).password(); pw != "" {
		return pw
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	return getenv("PGPASSWORD")
}

// RedactString returns s with every non-empty secret replaced by "xxxxx":
// for driver errors that might echo a connection string or its password.
func RedactString(s string, secrets ...string) string {
	sorted := slices.Clone(secrets)
	slices.SortFunc(sorted, func(a, b string) int { return len(b) - len(a) })
	for _, secret := range sorted {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, mask)
		}
	}
	return s
}

// field is a value redact hid: its key, its text as written and its value.
type field struct{ key, raw, value string }

// redaction is redact's result.
type redaction struct {
	text   string
	hidden []field
}

// secrets lists every hidden text, as written and as decoded.
func (r redaction) secrets() []string {
	var out []string
	for _, f := range r.hidden {
		out = append(out, f.raw, f.value)
	}
	return out
}

// password is the last hidden value under the key pgx takes the password from.
func (r redaction) password() string {
	pw := ""
	for _, f := range r.hidden {
		if f.key == "password" {
			pw = f.value
		}
	}
	return pw
}

// redactor builds a redaction piece by piece.
type redactor struct {
	b      strings.Builder
	hidden []field
}

func (r *redactor) keep(s string) { r.b.WriteString(s) }

func (r *redactor) hide(key, raw, value string) {
	r.b.WriteString(mask)
	r.hidden = append(r.hidden, field{key: key, raw: raw, value: value})
}

func (r *redactor) done() redaction {
	return redaction{text: r.b.String(), hidden: r.hidden}
}

func redact(s string) redaction {
	if scheme, rest, ok := cutScheme(s); ok {
		return redactURL(scheme+"://", rest)
	}
	return redactKeywordValue(s)
}

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// cutScheme splits "scheme://rest"; ok is false for anything else.
func cutScheme(s string) (scheme, rest string, ok bool) {
	scheme, rest, ok = strings.Cut(s, "://")
	if !ok || !schemeRE.MatchString(scheme) {
		return "", "", false
	}
	return scheme, rest, true
}

func secretKey(key string) bool {
	return strings.Contains(strings.ToLower(key), "password")
}

// redactURL redacts rest, the part of a URL after "scheme://".
func redactURL(prefix, rest string) redaction {
	var r redactor
	r.keep(prefix)
	if at := userinfoEnd(rest); at >= 0 {
		r.userinfo(rest[:at])
		r.keep("@")
		rest = rest[at+1:]
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	r.keep(path)
	if hasQuery {
		r.keep("?")
		r.query(query)
	}
	return r.done()
}

// userinfoEnd returns the index of the '@' ending the userinfo, or -1. Like
// libpq and pgx it is the first '@' before any '/'. When the rest of the URL
// is then malformed, the password may itself hold a '/', '?', ':' or '@', so
// it is the last '@' instead.
func userinfoEnd(rest string) int {
	at := -1
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		at = i
	}
	if unambiguous(rest[at+1:]) {
		return at
	}
	return strings.LastIndexByte(rest, '@')
}

// unambiguous reports whether s, a URL after its userinfo, reads as
// hosts[/dbname][?query] with numeric ports and no further '@' before the
// query: then no part of a password can hide in it.
func unambiguous(s string) bool {
	s, _, _ = strings.Cut(s, "?")
	if strings.Contains(s, "@") {
		return false
	}
	hosts, _, _ := strings.Cut(s, "/")
	for _, hostport := range strings.Split(hosts, ",") {
		if !numeric(port(hostport)) {
			return false
		}
	}
	return true
}

func port(hostport string) string {
	if strings.HasPrefix(hostport, "[") {
		_, after, _ := strings.Cut(hostport, "]")
		return strings.TrimPrefix(after, ":")
	}
	_, p, _ := strings.Cut(hostport, ":")
	return p
}

func numeric(p string) bool {
	return strings.Trim(p, " 0123456789") == ""
}

func (r *redactor) userinfo(u string) {
	user, pw, ok := strings.Cut(u, ":")
	r.keep(user)
	if !ok {
		return
	}
	r.keep(":")
	if pw != "" {
		r.hide("password", pw, decodeLenient(pw))
	}
}

// query hides the values of password-like parameters in a URL query.
func (r *redactor) query(q string) {
	for i, pair := range strings.Split(q, "&") {
		if i > 0 {
			r.keep("&")
		}
		rawKey, raw, ok := strings.Cut(pair, "=")
		key := decodeLenient(rawKey)
		if !ok || raw == "" || !secretKey(key) {
			r.keep(pair)
			continue
		}
		r.keep(rawKey + "=")
		r.hide(key, raw, decodeLenient(raw))
	}
}

// decodeLenient percent-decodes s as libpq does, keeping invalid escapes.
func decodeLenient(s string) string {
	s = strings.Trim(s, " ")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// redactKeywordValue redacts a libpq keyword/value string.
func redactKeywordValue(s string) redaction {
	var r redactor
	for {
		rest := strings.TrimLeft(s, spaces)
		r.keep(s[:len(s)-len(rest)])
		if s = rest; s == "" {
			return r.done()
		}
		n := r.pair(s)
		if n < 0 {
			r.malformed(s)
			return r.done()
		}
		s = s[n:]
	}
}

// pair copies the key=value pair s starts with, hiding a password-like
// value, and returns its length; or -1, copying nothing, when s does not
// start with a well-formed pair.
func (r *redactor) pair(s string) int {
	eq := strings.IndexByte(s, '=')
	if eq < 0 {
		return -1
	}
	key := strings.TrimRight(s[:eq], spaces)
	if key == "" || strings.ContainsAny(key, spaces) {
		return -1
	}
	start := len(s) - len(strings.TrimLeft(s[eq+1:], spaces))
	n := valueLen(s[start:])
	if n < 0 {
		return -1
	}
	raw := s[start : start+n]
	r.keep(s[:start])
	if secretKey(key) && raw != "" && raw != "''" {
		r.hide(key, raw, unquote(raw))
	} else {
		r.keep(raw)
	}
	return start + n
}

// malformed hides the unparseable rest of a keyword/value string if a
// password may be in it: it names one, looks like URL credentials (an '@'),
// or follows a password whose end is unsure.
func (r *redactor) malformed(rest string) {
	suspect := strings.Contains(strings.ToLower(rest), "pass") || strings.Contains(rest, "@")
	if len(r.hidden) == 0 && !suspect {
		r.keep(rest)
		return
	}
	r.hide("", rest, rest)
}

// valueLen is the length of the value v starts with, quotes included, or -1
// when its quote is not closed. A backslash escapes the next byte.
func valueLen(v string) int {
	quoted := strings.HasPrefix(v, "'")
	i := 0
	if quoted {
		i = 1
	}
	for ; i < len(v); i++ {
		switch {
		case v[i] == '\\':
			i++
		case quoted && v[i] == '\'':
			return i + 1
		case !quoted && strings.IndexByte(spaces, v[i]) >= 0:
			return i
		}
	}
	if quoted {
		return -1
	}
	return len(v)
}

// unquote is the value libpq reads from a raw keyword/value value.
func unquote(raw string) string {
	if len(raw) >= 2 && raw[0] == '\'' {
		raw = raw[1 : len(raw)-1]
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			if i++; i == len(raw) {
				break
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}
