package clientmod_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// fileProxy is a GOPROXY in a directory (the layout of the GOPROXY
// protocol, served to the go command as a file:// URL), filled from
// directories of the working tree.
type fileProxy struct{ dir string }

// URL is the proxy's entry for GOPROXY.
func (p fileProxy) URL() string { return "file://" + filepath.ToSlash(p.dir) }

// publish serves the module in src, whose go.mod is path's, as version:
// its .info, .mod and .zip (made with golang.org/x/mod/zip, as a release
// would be) and the version list.
func (p fileProxy) publish(t *testing.T, path, version, src string) {
	t.Helper()
	escPath, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	escVersion, err := module.EscapeVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(p.dir, filepath.FromSlash(escPath), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, escVersion)
	f, err := os.Create(base + ".zip")
	if err != nil {
		t.Fatal(err)
	}
	if err := zip.CreateFromDir(f, module.Version{Path: path, Version: version}, src); err != nil {
		f.Close()
		t.Fatalf("zip %s@%s from %s: %v", path, version, src, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		base + ".mod":              mod,
		base + ".info":             info,
		filepath.Join(dir, "list"): []byte(version + "\n"),
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
