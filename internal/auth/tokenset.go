package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// minTokenLen is the length below which a token is accepted with a warning.
const minTokenLen = 16

// tokenSet is one parsed generation of the token file. It keeps hashes of
// the tokens, never the tokens.
type tokenSet struct {
	sum        [sha256.Size]byte // digest of the file it was read from
	hashes     [][sha256.Size]byte
	principals []Principal
	short      []string // names of tokens shorter than minTokenLen
}

// parseTokens parses the content of a token file (see the package
// documentation). Its errors name lines and fields by number, never by
// content, since a field may be a token.
func parseTokens(data []byte) (*tokenSet, error) {
	s := &tokenSet{sum: sha256.Sum256(data)}
	lines := strings.Split(strings.TrimPrefix(string(data), "\ufeff"), "\n")
	seen := map[[sha256.Size]byte]int{}
	for i, line := range lines {
		n := i + 1
		fields := significantFields(line)
		if len(fields) == 0 {
			continue
		}
		h, p, err := parseTokenLine(fields)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if first, dup := seen[h]; dup {
			return nil, fmt.Errorf("line %d: the same token as line %d", n, first)
		}
		seen[h] = n
		s.hashes = append(s.hashes, h)
		s.principals = append(s.principals, p)
		if len(fields[0]) < minTokenLen {
			s.short = append(s.short, p.Name)
		}
	}
	if len(s.hashes) == 0 {
		return nil, errors.New("no token in the file")
	}
	return s, nil
}

// significantFields splits a line into fields, up to a field starting
// with '#'.
func significantFields(line string) []string {
	fields := strings.Fields(line)
	for i, f := range fields {
		if strings.HasPrefix(f, "#") {
			return fields[:i]
		}
	}
	return fields
}

// parseTokenLine parses the fields of a line: the token, then attributes.
func parseTokenLine(fields []string) ([sha256.Size]byte, Principal, error) {
	token := fields[0]
	if err := checkToken(token); err != nil {
		return [sha256.Size]byte{}, Principal{}, err
	}
	h := sha256.Sum256([]byte(token))
	p := Principal{Name: tokenPrincipal(h)}
	seen := map[string]bool{}
	for i, f := range fields[1:] {
		key, val, err := attribute(f, i+2, seen)
		if err == nil {
			err = setAttribute(&p, key, val)
		}
		if err != nil {
			return [sha256.Size]byte{}, Principal{}, err
		}
	}
	return h, p, nil
}

// checkToken refuses a token gRPC metadata cannot carry, or an attribute
// written where the token belongs.
func checkToken(token string) error {
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return errors.New("the token holds a character other than printable ASCII")
		}
	}
	for _, key := range []string{"name=", "tables="} {
		if strings.HasPrefix(token, key) {
			return errors.New("the first field must be the token, attributes come after it")
		}
	}
	return nil
}

// attribute splits field number i (1 is the token) into a known key and
// its value. Its errors never quote the field: it may be a stray token.
func attribute(f string, i int, seen map[string]bool) (string, string, error) {
	key, val, ok := strings.Cut(f, "=")
	if !ok || (key != "name" && key != "tables") {
		return "", "", fmt.Errorf("field %d is not an attribute (name= or tables=)", i)
	}
	if seen[key] {
		return "", "", fmt.Errorf("%s= given twice", key)
	}
	seen[key] = true
	if val == "" {
		return "", "", fmt.Errorf("%s= is empty", key)
	}
	return key, val, nil
}

// setAttribute applies one attribute to p.
func setAttribute(p *Principal, key, val string) error {
	if key == "name" {
		if !utf8.ValidString(val) || strings.IndexFunc(val, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			return errors.New("name= holds a character that is not printable")
		}
		p.Name = val
		return nil
	}
	a, err := ParseAllowlist(val)
	if err != nil {
		return fmt.Errorf("tables=: %w", err)
	}
	p.Tables = a
	return nil
}

// lookup returns the principal of the token whose SHA-256 hash is h. It
// compares h with every hash of the set in constant time, without an early
// exit, so the timing says nothing about the token or which one matched.
func (s *tokenSet) lookup(h [sha256.Size]byte) (Principal, bool) {
	found, idx := 0, 0
	for i := range s.hashes {
		eq := subtle.ConstantTimeCompare(h[:], s.hashes[i][:])
		found |= eq
		idx = subtle.ConstantTimeSelect(eq, i, idx)
	}
	if found == 0 {
		return Principal{}, false
	}
	return s.principals[idx], true
}

// holds reports whether the set still has the token whose hash is h.
func (s *tokenSet) holds(h [sha256.Size]byte) bool {
	_, ok := s.lookup(h)
	return ok
}
