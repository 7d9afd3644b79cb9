package clientmod_test

import (
	"os"
	"testing"

	"github.com/loadsvc/loadsvc/internal/pgtest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.MainWithLeakCheck(m, &cluster)) }
