package main

import (
	"context"
	"errors"
	"github.com/loadsvc/loadsvc/internal/testenv"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// entryStart is how every console entry begins: its ISO 8601 time.
var entryStart = regexp.MustCompile(`^\d{4}-\d\d-\d\dT`)

// Issue 12 #6: with --log-format console a client's mistake is one WARN
// line and no stack trace: every line of the log is an entry of its own.
func TestConsoleClientErrorIsOneLine(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	adminExec(t, url, tableDDL)
	p := start(t, []string{"LOADSVC_DATABASE_URL=" + url, "LOADSVC_ALLOW_TABLES=public.t"}, "--log-format", "console")
	_, err := p.client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "secret", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: jsonRows(t, 0, 1)})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("load outside the allowlist: %v", err)
	}
	_, err = p.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t"}, Rows: jsonRows(t, 0, 1)})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("delete_insert without pk: %v", err)
	}
	p.stop()
	p.done <- <-p.done
	out := p.out.String()
	warns := 0
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		if !entryStart.MatchString(line) {
			t.Errorf("a line that is no log entry (a stack trace?): %q", line)
		}
		if strings.Contains(line, "\tWARN\t") {
			warns++
		}
	}
	if warns < 2 {
		t.Errorf("%d WARN lines, want one per refused load:\n%s", warns, out)
	}
}

// Stacks are for ERROR (and panics, which are logged as ERROR), in both
// formats; WARN and below never carry one.
func TestStacksOnlyForErrors(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"console", "json"} {
		out := &testenv.SyncBuffer{}
		log, err := newLogger(&config{LogFormat: format, LogLevel: "debug"}, out)
		if err != nil {
			t.Fatal(err)
		}
		log.Warn("client mistake", zap.Error(errors.New("line one\nline two")))
		warn := out.String()
		log.Error("server fault")
		errLine := strings.TrimPrefix(out.String(), warn)
		if strings.Count(warn, "\n") != 1 || strings.Contains(warn, "stacktrace") {
			t.Errorf("%s: WARN is not one line without a stack: %q", format, warn)
		}
		if !strings.Contains(errLine, "TestStacksOnlyForErrors") {
			t.Errorf("%s: ERROR has no stack: %q", format, errLine)
		}
	}
}
