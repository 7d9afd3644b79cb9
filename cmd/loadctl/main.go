// Command loadctl loads CSV, NDJSON and JSON-array files and Excel sheets
// into PostgreSQL through loadsvc, and checks the service's health.
//
//	loadctl load --addr HOST:PORT --table t --mode delete_insert --pk a,b FILE
//	loadctl load --table t --pk month --sheet 规模明细 --dry-run book.xlsx
//	loadctl load --table t --plan FILE > plan.sql
//	loadctl health --addr HOST:PORT
//	loadctl history --table t --since 7d --status failed
//
// A load streams the file (constant memory) over one LoadStream, so the whole
// file goes in one transaction: it loads completely or not at all. Run
// "loadctl help" for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	code := realMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// realMain runs one loadctl command line (without the program name) and
// returns the exit status.
func realMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "load":
		return runLoad(ctx, rest, stdin, stdout, stderr)
	case "health":
		return runHealth(ctx, rest, stdout, stderr)
	case "history":
		return runHistory(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		return runHelp(rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "loadctl: unknown command %q\n\n%s", cmd, mainUsage)
		return exitUsage
	}
}

const mainUsage = `loadctl loads CSV, NDJSON and JSON files and Excel sheets into PostgreSQL through loadsvc.

Usage:
  loadctl load --table TABLE [flags] [FILE]   load FILE (stdin when - or absent)
  loadctl health [flags]                      check that the service is serving
  loadctl history [flags]                     list the recorded loads, newest first
  loadctl help [COMMAND]                      this help, or a command's flags

Run 'loadctl help load', 'loadctl help health' or 'loadctl help history' for their flags.
`

func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, mainUsage)
		return exitOK
	}
	switch args[0] {
	case "load":
		printUsage(stdout, newLoadFlags(&loadOptions{}), loadUsage)
	case "health":
		printUsage(stdout, newHealthFlags(&healthOptions{}), healthUsage)
	case "history":
		printUsage(stdout, newHistoryFlags(&historyOptions{}), historyUsage)
	default:
		fmt.Fprintf(stderr, "loadctl: unknown command %q\n\n%s", args[0], mainUsage)
		return exitUsage
	}
	return exitOK
}

// printUsage writes a command's text and then its flags.
func printUsage(w io.Writer, fs *flag.FlagSet, text string) {
	fmt.Fprint(w, text)
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// newFlagSet returns a flag set that reports errors but prints no usage of
// its own: parseArgs does that.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	return fs
}

// parseArgs parses flags and positional arguments in any order (flags may
// follow FILE); "--" ends the flags. It returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// fail reports err on stderr and returns the exit status it calls for:
// usage errors (2) point at the command's help, -h prints it.
func fail(err error, cmd string, fs *flag.FlagSet, text string, stdout, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, text)
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "loadctl %s: %s\nRun 'loadctl help %s' for usage.\n", cmd, ue.msg, cmd)
		return exitUsage
	}
	printError(stderr, err)
	return exitFailure
}

// envOr returns the environment variable's value, or def when it is unset
// or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
