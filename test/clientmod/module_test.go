package clientmod_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/loadsvc/loadsvc/internal/testenv"
)

const (
	modulePrefix = "github.com/loadsvc/loadsvc"
	clientPath   = modulePrefix + "/client"
)

// forbidden matches the service's dependencies, which a worker importing
// the client must not pull: pgx, Kubernetes, OpenTelemetry, Prometheus.
var forbidden = regexp.MustCompile(`jackc/pgx|k8s\.io|sigs\.k8s\.io|go\.opentelemetry\.io|prometheus`)

// TestWorkerModuleRequiresTheClient builds, vets and runs a worker module
// outside the repository that requires the client at the version the
// service's go.mod names, with the loadsvc modules served from the working
// tree at the versions client/go.mod names and nothing of the workspace.
func TestWorkerModuleRequiresTheClient(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	clientMod := checkReleasable(t, root)
	version := requiredVersion(t, readMod(t, root, "go.mod"), clientPath)

	proxy := fileProxy{dir: t.TempDir()}
	proxy.publish(t, clientPath, version, filepath.Join(root, "client"))
	for _, r := range clientMod.Require {
		if sub, ok := strings.CutPrefix(r.Mod.Path, modulePrefix+"/"); ok {
			proxy.publish(t, r.Mod.Path, r.Mod.Version, filepath.Join(root, filepath.FromSlash(sub)))
		}
	}
	clientSum, err := os.ReadFile(filepath.Join(root, "client", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	w := newWorker(t, proxy, clientMod.Go.Version, version, clientSum)
	bin := filepath.Join(t.TempDir(), "worker")
	w.goCmd(t, "build", "-trimpath", "-o", bin, ".")
	w.goCmd(t, "vet", "-trimpath", ".")
	checkBuildList(t, w.goCmd(t, "list", "-m", "all"), clientMod, version)
	if bad := forbidden.FindAllString(w.goCmd(t, "list", "-deps", "."), -1); len(bad) > 0 {
		t.Errorf("a worker importing the client builds the service's dependencies: %v", slices.Compact(bad))
	}

	e := testenv.New(t, cluster)
	if _, err := e.Admin.Exec(context.Background(), `CREATE TABLE nav (id int PRIMARY KEY, day date NOT NULL, nav numeric)`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, e.Addr, "nav").CombinedOutput()
	if err != nil || string(out) != "inserted 2\n" {
		t.Fatalf("worker: %v, printed %q; want \"inserted 2\\n\"", err, out)
	}
	got := testenv.Texts(t, e.Admin, `SELECT id || '|' || day || '|' || coalesce(nav::text, 'NULL') FROM nav ORDER BY id`)
	if want := []string{"1|2024-11-01|1.25", "2|2024-11-01|NULL"}; !slices.Equal(got, want) {
		t.Errorf("table nav after the worker's load: %q; want %q", got, want)
	}
}

// checkReleasable fails unless the client, proto and pgtext go.mod files can
// be required as they are: no replace directive (a dependency's replaces are
// ignored), the loadsvc modules the client requires at released versions,
// none of the service's dependencies. It returns the client's go.mod.
func checkReleasable(t *testing.T, root string) *modfile.File {
	t.Helper()
	for _, name := range []string{"client/go.mod", "proto/go.mod", "pgtext/go.mod"} {
		for _, r := range readMod(t, root, name).Replace {
			t.Errorf("%s replaces %s with %s: a module that requires it ignores replace directives; the workspace (go.work) is for development", name, r.Old.Path, r.New.Path)
		}
	}
	clientMod := readMod(t, root, "client/go.mod")
	for _, r := range clientMod.Require {
		if forbidden.MatchString(r.Mod.Path) {
			t.Errorf("client/go.mod requires %s, a dependency of the service that a worker must not pull", r.Mod.Path)
		}
		if strings.HasPrefix(r.Mod.Path, modulePrefix+"/") && module.IsPseudoVersion(r.Mod.Version) {
			t.Errorf("client/go.mod requires %s %s, not a released version: tag %s/vX.Y.Z and require that (README, Releasing)",
				r.Mod.Path, r.Mod.Version, strings.TrimPrefix(r.Mod.Path, modulePrefix+"/"))
		}
	}
	rootMod := readMod(t, root, "go.mod")
	for _, r := range clientMod.Require {
		if strings.HasPrefix(r.Mod.Path, modulePrefix+"/") {
			if v := requiredVersion(t, rootMod, r.Mod.Path); v != r.Mod.Version {
				t.Errorf("go.mod requires %s %s, client/go.mod %s: bump both (README, Releasing)", r.Mod.Path, v, r.Mod.Version)
			}
		}
	}
	return clientMod
}

// checkBuildList fails unless the worker's build list (go list -m all) has
// the client at version and every module client/go.mod names at the
// version it names.
func checkBuildList(t *testing.T, list string, clientMod *modfile.File, version string) {
	t.Helper()
	got := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(list), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			got[f[0]] = f[1]
		}
	}
	want := map[string]string{clientPath: version}
	for _, r := range clientMod.Require {
		want[r.Mod.Path] = r.Mod.Version
	}
	for path, v := range want {
		if got[path] != v {
			t.Errorf("the worker builds %s at %q; want %s, the version named for it", path, got[path], v)
		}
	}
}

// readMod parses the go.mod file at name under root.
func readMod(t *testing.T, root, name string) *modfile.File {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(name))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// requiredVersion is the version f requires of path.
func requiredVersion(t *testing.T, f *modfile.File, path string) string {
	t.Helper()
	for _, r := range f.Require {
		if r.Mod.Path == path {
			return r.Mod.Version
		}
	}
	t.Fatalf("%s requires no %s", f.Syntax.Name, path)
	return ""
}
