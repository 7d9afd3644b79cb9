package clientmod_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// workerMain is the worker's program: it loads two rows through the client
// and prints what the service counted.
const workerMain = `// Command worker loads rows into a table through loadsvc's Go client, as a
// pipeline worker in a module of its own does.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: worker ADDR TABLE")
	}
	c, err := client.Dial(args[0], client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	day := time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC)
	resp, err := c.Load(ctx, &loadsvcv1.LoadConfig{Table: args[1], Pk: []string{"id"}},
		[]client.Row{{"id": 1, "day": day, "nav": 1.25}, {"id": 2, "day": day, "nav": nil}})
	if e, ok := client.AsError(err); ok {
		return fmt.Errorf("load: %w (sqlstate %q, field %q, %d bad rows)", e, e.SQLState, e.Field, len(e.RowErrors))
	}
	fmt.Printf("inserted %d\n", resp.GetInserted())
	return nil
}
`

// worker is a module in a directory outside the repository that requires
// the client, and the environment its go commands run in: no workspace, a
// module cache of its own, and modules from the file proxy first.
type worker struct {
	dir string
	env []string
}

// newWorker writes the worker's module: go.mod requiring only the client at
// version, go.sum holding the client's own (so that the modules the client
// names are checked against the hashes it was tidied with), and main.go.
func newWorker(t *testing.T, proxy fileProxy, goVersion, version string, clientSum []byte) *worker {
	t.Helper()
	w := &worker{dir: t.TempDir()}
	goEnv := goEnv(t, "GOMODCACHE", "GOPROXY")
	w.env = append(os.Environ(),
		"GOWORK=off",
		"GOFLAGS=-mod=mod -modcacherw",
		// the loadsvc modules from the working tree; the others from the
		// machine's module cache when it has them, else as go would fetch them
		"GOPROXY="+strings.Join([]string{proxy.URL(), "file://" + filepath.ToSlash(filepath.Join(goEnv["GOMODCACHE"], "cache", "download")), goEnv["GOPROXY"]}, ","),
		"GONOSUMDB="+modulePrefix, // not published: no checksum database knows them
		// a cache of its own: the machine's must never hold the loadsvc
		// modules made here, nor may a copy left there from an earlier run
		// stand in for the working tree
		"GOMODCACHE="+filepath.Join(t.TempDir(), "mod"),
	)
	gomod := "module example.com/worker\n\ngo " + goVersion + "\n\nrequire " + clientPath + " " + version + "\n"
	for name, data := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": clientSum, "main.go": []byte(workerMain)} {
		if err := os.WriteFile(filepath.Join(w.dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// goCmd runs the go command in the worker's module and returns its output.
func (w *worker) goCmd(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	began := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("go %s: %v", strings.Join(args, " "), time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("in a module outside the repository (GOWORK=off, the loadsvc modules from the working tree): go %s: %v\n%s",
			strings.Join(args, " "), err, out)
	}
	return string(out)
}

// goEnv is the go command's settings of names, as the test's environment
// has them.
func goEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"env", "-json"}, names...)...).Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	env := map[string]string{}
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatalf("go env: %v", err)
	}
	return env
}
