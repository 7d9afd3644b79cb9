package main

import (
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// maxLabelValue is the most bytes of a label's value the service takes.
const maxLabelValue = 256

// labelFlags is the repeatable --label k=v flag: the labels recorded with
// the load in the service's history.
type labelFlags map[string]string

func (l labelFlags) String() string { return labelsText(l) }

// Set takes one k=v; the service checks the key's form and the limits, and
// names what it refuses.
func (l labelFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	switch {
	case !ok || k == "":
		return usageErrorf("--label %q: want key=value", s)
	case hasKey(l, k):
		return usageErrorf("--label %q: the key %q is given twice", s, k)
	}
	l[k] = v
	return nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// sourceLabel is the default label "source": the file's name (not its
// directory), with the sheet of a workbook ("book.xlsx!净值"), "stdin" for
// standard input; cut to maxLabelValue bytes at a character boundary.
func sourceLabel(in *input, src rowSource) string {
	s := filepath.Base(in.name)
	if x, ok := src.(*xlsxRows); ok {
		s += "!" + x.sheet
	}
	return truncateUTF8(s, maxLabelValue)
}

// truncateUTF8 is s cut to at most n bytes, never inside a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
