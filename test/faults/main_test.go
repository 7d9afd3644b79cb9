package faults_test

import (
	"flag"
	"os"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/pgtest"
)

// cluster is the PostgreSQL shared by the tests that do not stop it.
var cluster *pgtest.Cluster

var soakDuration = flag.Duration("soak.duration", 5*time.Second, "how long TestSoak runs (make soak: 2m)")

func TestMain(m *testing.M) { os.Exit(pgtest.MainWithLeakCheck(m, &cluster)) }
