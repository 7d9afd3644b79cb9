package deploy_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // FROM, RUN, … upper case
	args string
}

// readDockerfile reads deploy/Dockerfile's instructions.
func readDockerfile() ([]instruction, error) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		return nil, err
	}
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	var out []instruction
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	return out, nil
}

// goBuild is the build stage's go build: its environment (ENV lines, then
// the assignments before the command) and the arguments after "go".
type goBuild struct {
	env  []string
	args []string
}

// parseGoBuild finds the RUN … go build … line of the first stage.
func parseGoBuild(instrs []instruction) (*goBuild, error) {
	b := &goBuild{}
	for i, in := range instrs {
		if in.cmd == "FROM" && i > 0 {
			break // the build stage ends at the next FROM
		}
		switch {
		case in.cmd == "ENV":
			words, err := shellWords(in.args)
			if err != nil {
				return nil, err
			}
			b.env = append(b.env, words...)
		case in.cmd == "RUN" && strings.Contains(in.args, " go build "):
			return b, b.parseRun(in.args)
		}
	}
	return nil, fmt.Errorf("no RUN … go build … in the Dockerfile's build stage")
}

func (b *goBuild) parseRun(line string) error {
	words, err := shellWords(line)
	if err != nil {
		return err
	}
	for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
		words = words[1:]
	}
	for len(words) > 0 && strings.Contains(words[0], "=") {
		b.env = append(b.env, expandBuildArgs(words[0]))
		words = words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		return fmt.Errorf("the build line is not [env…] go build …: %q", line)
	}
	b.args = words[1:]
	return nil
}

// expandBuildArgs puts in the target platform, which buildx sets: here
// the host's.
func expandBuildArgs(s string) string {
	return strings.NewReplacer("$TARGETOS", runtime.GOOS, "$TARGETARCH", runtime.GOARCH).Replace(s)
}

// output is the value of the build's -o.
func (b *goBuild) output() string {
	if i := slices.Index(b.args, "-o"); i >= 0 && i+1 < len(b.args) {
		return b.args[i+1]
	}
	return ""
}

// shellWords splits s into words as sh would, for the quoting a
// Dockerfile uses here: single and double quotes, no escapes inside them.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// dockerignore is the repository's .dockerignore, as patterns anchored at
// the context root.
type dockerignore []*regexp.Regexp

func readDockerignore(root string) (dockerignore, error) {
	raw, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	var d dockerignore
	for line := range strings.SplitSeq(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsAny(line, "![\\") {
			return nil, fmt.Errorf(".dockerignore pattern %q: this test knows *, ** and ? only", line)
		}
		d = append(d, ignorePattern(strings.Trim(line, "/")))
	}
	return d, nil
}

// ignorePattern turns a .dockerignore pattern into a regexp of the paths it
// matches.
func ignorePattern(p string) *regexp.Regexp {
	var re strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], "**/"):
			re.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			re.WriteString(".*")
			i++
		case p[i] == '*':
			re.WriteString("[^/]*")
		case p[i] == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	return regexp.MustCompile("^" + re.String() + "$")
}

// excluded reports whether rel (slash-separated) or a directory above it
// is left out of the context.
func (d dockerignore) excluded(rel string) bool {
	for p := rel; p != "."; p = filepath.ToSlash(filepath.Dir(p)) {
		for _, re := range d {
			if re.MatchString(p) {
				return true
			}
		}
	}
	return false
}

// copyContext copies what the build context of root holds into dst.
func copyContext(root, dst string, ignore dockerignore) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	return filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		if ignore.excluded(filepath.ToSlash(rel)) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case e.IsDir():
			return os.MkdirAll(target, 0o755)
		case e.Type().IsRegular():
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, raw, 0o644)
		}
		return nil // sockets, symlinks: Docker would not build from them either
	})
}

// buildAsImage builds the service into out as the Dockerfile does: from a
// copy of the build context, with the Dockerfile's own go build line.
func buildAsImage(contextDir, out string) error {
	instrs, err := readDockerfile()
	if err != nil {
		return err
	}
	b, err := parseGoBuild(instrs)
	if err != nil {
		return err
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	ignore, err := readDockerignore(root)
	if err != nil {
		return err
	}
	if err := copyContext(root, contextDir, ignore); err != nil {
		return fmt.Errorf("copy the build context: %w", err)
	}
	args := slices.Clone(b.args)
	args[slices.Index(args, "-o")+1] = out
	cmd := exec.Command("go", args...)
	cmd.Dir = contextDir
	cmd.Env = append(os.Environ(), b.env...)
	if raw, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, raw)
	}
	// The non-root user runs it: open the temporary directories to it.
	for _, dir := range []string{filepath.Dir(out), filepath.Dir(filepath.Dir(out))} {
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// TestDockerfile checks the Dockerfile's stages: a Go 1.26 builder making a
// static, trimmed binary, and a distroless nonroot image running it as
// 65532 on the gRPC port.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	instrs, err := readDockerfile()
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseGoBuild(instrs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOFLAGS=-buildvcs=false"} {
		if !slices.Contains(b.env, want) {
			t.Errorf("build environment %v lacks %s", b.env, want)
		}
	}
	for _, want := range []string{"-trimpath", "-ldflags=-s -w", "./cmd/loadsvc"} {
		if !slices.Contains(b.args, want) && !slices.Contains(joinFlags(b.args), want) {
			t.Errorf("go %v lacks %s", b.args, want)
		}
	}
	last := map[string]string{}
	var froms []string
	for _, in := range instrs {
		last[in.cmd] = in.args
		if in.cmd == "FROM" {
			froms = append(froms, in.args)
		}
	}
	checkStages(t, froms, last, b.output())
}

func checkStages(t *testing.T, froms []string, last map[string]string, output string) {
	t.Helper()
	if len(froms) != 2 || !strings.Contains(froms[0], "golang:1.26 AS build") ||
		froms[1] != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("stages %q; want golang:1.26 AS build, then gcr.io/distroless/static-debian12:nonroot", froms)
	}
	if last["USER"] != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (numeric, for runAsNonRoot)", last["USER"])
	}
	if last["EXPOSE"] != "50051 9090" {
		t.Errorf("EXPOSE %q, want 50051 9090", last["EXPOSE"])
	}
	if want := fmt.Sprintf("--from=build %s /usr/local/bin/loadsvc", output); last["COPY"] != want {
		t.Errorf("final COPY %q, want %q", last["COPY"], want)
	}
	if want := `["/usr/local/bin/loadsvc", "--listen", "0.0.0.0:50051"]`; last["ENTRYPOINT"] != want {
		t.Errorf("ENTRYPOINT %s, want %s", last["ENTRYPOINT"], want)
	}
}

// joinFlags turns "-ldflags" "x" pairs into "-ldflags=x".
func joinFlags(args []string) []string {
	var out []string
	for i := 0; i+1 < len(args); i++ {
		out = append(out, args[i]+"="+args[i+1])
	}
	return out
}

// TestDockerignore: the context keeps the sources and leaves out the
// repository, tools, local database and binaries.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	ignore, err := readDockerignore("..")
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{
		"go.mod": false, "go.sum": false, "cmd/loadsvc/main.go": false, "cmd/loadsvc": false,
		"internal/server/server.go": false, "proto/loadsvc/v1/loadsvc.pb.go": false,
		".git/HEAD": true, "bin/buf": true, ".local/data/PG_VERSION": true, "loadsvc": true,
		"internal/server/server.test": true, "deploy/k8s/base/deployment.yaml": true,
	} {
		if got := ignore.excluded(rel); got != want {
			t.Errorf("%s excluded: %v, want %v", rel, got, want)
		}
	}
}
