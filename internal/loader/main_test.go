package loader_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The loader's tests are pure: no database, no network. Those that run
// loads on PostgreSQL are pgexec's.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// row is one JSON row for a test.
type row = map[string]any
