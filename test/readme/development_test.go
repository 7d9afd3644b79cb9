package readme_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's `make test` row names every step of the Makefile's test
// target: each of its prerequisites and each target its recipe runs, as
// `make X`; its go test command, flags and packages as the Makefile spells
// them; and each fuzz target of fuzz-smoke.
func TestDevelopmentListsMakeTest(t *testing.T) {
	t.Parallel()
	mk := readRoot(t, "Makefile")
	row := ""
	for line := range strings.SplitSeq(readRoot(t, "README.md"), "\n") {
		if strings.HasPrefix(line, "| `make test` |") {
			row = line
		}
	}
	if row == "" {
		t.Fatal("the README has no `make test` row")
	}
	var want []string
	for _, target := range append(prerequisites(t, mk, "test"), submakes(recipe(t, mk, "test"))...) {
		want = append(want, "`make "+target+"`")
	}
	want = append(want, "`go test "+variable(t, mk, "GO_TEST_FLAGS")+" "+variable(t, mk, "MODULES")+"`")
	for _, m := range regexp.MustCompile(`-fuzz '\^(\w+)\$\$'`).FindAllStringSubmatch(recipe(t, mk, "fuzz-smoke"), -1) {
		want = append(want, "`"+m[1]+"`")
	}
	if len(want) < 9 {
		t.Fatalf("read only %q from the Makefile", want)
	}
	for _, w := range want {
		if !strings.Contains(row, w) {
			t.Errorf("the README's `make test` row lacks %s", w)
		}
	}
}

func readRoot(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// prerequisites are the targets target depends on in the Makefile mk.
func prerequisites(t *testing.T, mk, target string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:([^#\n]*)`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("the Makefile has no target %s", target)
	}
	return strings.Fields(m[1])
}

// recipe is the recipe of target in the Makefile mk: its tab-indented
// lines.
func recipe(t *testing.T, mk, target string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:.*\n((?:\t.*\n)+)`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("the Makefile has no recipe for %s", target)
	}
	return m[1]
}

// submakes are the targets a recipe runs with $(MAKE).
func submakes(recipe string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`\$\(MAKE\)[^\n]*\s(\S+)\n`).FindAllStringSubmatch(recipe, -1) {
		out = append(out, m[1])
	}
	return out
}

// variable is the value the Makefile mk gives name (with := or ?=).
func variable(t *testing.T, mk, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*[:?]?=\s*(.*)$`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("the Makefile does not set %s", name)
	}
	return strings.TrimSpace(m[1])
}
