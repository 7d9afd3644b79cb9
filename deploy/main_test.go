package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// binary is the service built as the Dockerfile builds it, in binDir.
var (
	binDir string
	binary string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "loadsvc-image-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = filepath.Join(dir, "out")
	binary = filepath.Join(binDir, "loadsvc")
	if err := buildAsImage(filepath.Join(dir, "context"), binary); err != nil {
		fmt.Fprintf(os.Stderr, "build loadsvc as deploy/Dockerfile does: %v\n", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	return code
}
