package loader

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text is a text value, refused when PostgreSQL cannot store it.
func Text(s string) (Field, error) {
	if err := CheckText(s); err != nil {
		return Field{}, err
	}
	return Field{Text: s}, nil
}

// CheckText refuses text that PostgreSQL cannot store: one with a NUL byte.
// Every decoder asks it, or Text, of every text value.
func CheckText(s string) error {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("text holds a NUL byte at byte %d, which PostgreSQL cannot store", i)
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// MaxQuoted is how many bytes of a row value an error message quotes.
const MaxQuoted = 64

// Cap shortens a value quoted in an error message or a log line to
// MaxQuoted bytes, on a character boundary, and marks the cut.
func Cap(s string) string {
	if len(s) <= MaxQuoted {
		return s
	}
	n := MaxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes, cut)"
}

// CapValue shortens a row value reported back (RowError.Value) to at most
// MaxQuoted bytes (Cut).
func CapValue(s string) string { return Cut(s, MaxQuoted) }

// Cut shortens s to at most max bytes, on a character boundary, ending a
// cut one with "…".
func Cut(s string, max int) string { return CutMarked(s, max, "…") }

// CutMarked is Cut with mark, not "…", ending a cut text.
func CutMarked(s string, max int, mark string) string {
	if len(s) <= max {
		return s
	}
	n := max - len(mark)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}
