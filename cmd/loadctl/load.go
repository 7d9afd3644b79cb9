package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

const loadUsage = `Usage: loadctl load --table TABLE [flags] [FILE]

Loads FILE, or standard input when FILE is - or absent, into TABLE through
loadsvc. The file is streamed in constant memory, and the whole load is one
transaction: it lands completely or not at all (Ctrl-C rolls it back).
Flags take one dash or two and may come before or after FILE.

The format comes from --format, else FILE's extension (.csv, .ndjson or
.jsonl, .json, .xlsx); standard input without --format is sniffed: '[' starts
a JSON array, '{' NDJSON, anything else CSV.

CSV is read as psql's COPY ... CSV HEADER reads it: the header names the
columns, fields are split by --delimiter and quoted with ", a doubled quote
inside quotes is one quote. An unquoted empty field is NULL and a quoted one
("") the empty string; with --null MARKER an unquoted MARKER is NULL instead.
Values go as text for PostgreSQL to parse. NDJSON and JSON arrays hold one
object per row: numbers keep their exact digits, nested objects and arrays go
as JSON text. The first rows fix the columns: a later row may leave one out
(NULL) but not add one.

An Excel workbook (.xlsx) loads one sheet, --sheet NAME or the first, read
row by row in constant memory. Its first non-empty row names the columns;
fully empty rows are skipped. Text goes as is, an empty cell is NULL, a
number is the shortest decimal that round-trips the stored value (never the
display format's rounding), a date 2024-12-01, a date-time
2024-12-01 09:30:00, a time-only format 09:30:00, a boolean true or false, a
formula its calculated value. An error cell (#N/A, #DIV/0!) refuses the load,
naming the cell. A workbook is read within bounds: its shared strings (the
part xl/sharedStrings.xml as inflated, and the strings held) and the text of
one row may take at most --max-xlsx-text-mib; a part that inflates past a
bound is refused, naming the part and the limit.

--plan prints the SQL script the load would run (runnable by psql -f) and
never touches the database; it sends the whole file in one request.

--parallel N sends the rows through one load session instead of one stream:
the file is read once, in constant memory, and its batches are dealt in
turn to N writers (part-1 ... part-N) that append them in parallel; one
commit then applies every row in one transaction. A failure or Ctrl-C
aborts the session, and nothing is written. Not with --plan or --dry-run.
With --max-rejected, the budget covers the rows the commit rejects (a
constraint); a value a column cannot take fails its append, and the load.

--dry-run runs the load exactly as it would run, with every check the
database makes, then rolls it back: it prints the real counts (rows deleted,
inserted) and writes nothing.

A load refused for its rows prints one line per bad value or row, in row
order: its place in the file (CSV and JSON "line 12", the line the row
starts on as an editor counts it; Excel the cell, "净值!C512"), the column,
the value and PostgreSQL's reason. --max-rejected N lets the load leave out
up to N bad rows and write the others (more refuses it as a whole); the
rows left out are printed the same way, and --rejects FILE writes them as
CSV: the file's columns with the rows' original values (read again from the
file; standard input is kept in a temporary file for it), then position,
column, sqlstate and reason.

Every load is recorded in the service's history with its labels: source
(the file's name, and the sheet of a workbook) unless --label source=...
says otherwise, and each --label key=value. --max-deleted N refuses a load
that would delete more than N rows (FAILED_PRECONDITION, nothing written).
--stamp-column COL writes the load's id into COL of every row it writes.

Modes: append, delete_insert (the default), upsert, insert_missing,
fill_null_only, replace. Every mode but append and replace needs --pk.

Rows of one load that share a key (--duplicates): by default delete_insert
keeps them all (the key is the scope it refreshes) and the other keyed modes
refuse them; keep_last keeps the last row of each key, refuse refuses the
load, keep_all keeps every row (delete_insert only).

Exit status: 0 loaded (rows left out under --max-rejected included), 1 failed (the status code's name and message on
stderr), 2 usage error.
`

// loadOptions are the flags of "loadctl load".
type loadOptions struct {
	conn        connOptions
	table       string
	schema      string
	mode        string
	pk          string
	chunkSize   int
	duplicates  string
	requestID   string
	plan        bool
	dryRun      bool
	parallel    int
	maxPlanRows int
	format      string
	sheet       string
	xlsxTextMiB int
	delimiter   string
	null        optionalString
	quiet       bool
	json        bool
	maxRejected int64
	rejects     string
	maxDeleted  int64
	stampColumn string
	labels      labelFlags
}

// defaultChunkSize is the rows of one COPY a load asks for. PostgreSQL 15
// spends about as much CPU on starting and ending a COPY into an indexed
// table as on a thousand of its rows, so at the server's default of 1,000
// rows a COPY, an append costs it twice what it must (make bench: figure
// (c) at -chunk-size 1000 against 1000000).
const defaultChunkSize = 1_000_000

func newLoadFlags(o *loadOptions) *flag.FlagSet {
	fs := newFlagSet("load")
	o.conn.register(fs)
	fs.StringVar(&o.table, "table", "", "target `table` (required); a bare name, a dot is part of it")
	fs.StringVar(&o.schema, "schema", "", "the table's `schema` (default: the session's search_path)")
	fs.StringVar(&o.mode, "mode", "delete_insert", "load `mode`: append, delete_insert, upsert, insert_missing, fill_null_only, replace")
	fs.StringVar(&o.pk, "pk", "", "key `columns`, comma-separated (every mode but append and replace)")
	fs.IntVar(&o.chunkSize, "chunk-size", defaultChunkSize, "rows of one COPY on the server, which also ends a COPY at 4 MiB of rows (0: the server's default, 1000)")
	fs.StringVar(&o.duplicates, "duplicates", "", "rows sharing a key: `policy` refuse, keep_last or keep_all (default: the mode's own; delete_insert keeps all, other keyed modes refuse)")
	fs.StringVar(&o.requestID, "request-id", "", "idempotency `key`: a load with an id already loaded is answered from the service's ledger, not written again")
	fs.BoolVar(&o.plan, "plan", false, "print the SQL script of the load instead of running it (the database is not touched)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "run the load, print its real counts, then roll it back: nothing is written")
	fs.IntVar(&o.parallel, "parallel", 0, "append the rows through one load session of `N` writers in parallel, committed at once (0: one stream)")
	fs.IntVar(&o.maxPlanRows, "max-plan-rows", 100000, "most rows --plan sends (in one request)")
	fs.StringVar(&o.format, "format", "", "input `format`: csv, ndjson, json or xlsx (default: from the extension, or sniffed on stdin)")
	fs.StringVar(&o.sheet, "sheet", "", "the `sheet` of an .xlsx workbook to load (default: the first)")
	fs.IntVar(&o.xlsxTextMiB, strings.TrimPrefix(flagXLSXText, "--"), defaultXLSXTextMiB,
		"most `MiB` of an .xlsx workbook's text held at once: its shared strings (xl/sharedStrings.xml as inflated, and the strings held), or one row's cells")
	fs.StringVar(&o.delimiter, "delimiter", ",", "CSV field delimiter, one byte (\\t for a tab)")
	fs.Var(&o.null, "null", "CSV: an unquoted field equal to `marker` is NULL, and an unquoted empty field the empty string")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress display")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON (the LoadResponse)")
	fs.Int64Var(&o.maxRejected, "max-rejected", 0, "leave out up to `N` bad rows and load the others (0: a bad row refuses the load)")
	fs.StringVar(&o.rejects, "rejects", "", "with --max-rejected: write the rows left out to this CSV `file`, with their position, column, sqlstate and reason")
	fs.Int64Var(&o.maxDeleted, "max-deleted", 0, "refuse the load if it would delete more than `N` rows (0: no limit)")
	fs.StringVar(&o.stampColumn, "stamp-column", "", "a target `column` that receives the load's id in every row written")
	o.labels = labelFlags{}
	fs.Var(o.labels, "label", "a `key=value` recorded with the load in the service's history (repeatable); source=FILE is set unless given")
	return fs
}

func runLoad(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o loadOptions
	fs := newLoadFlags(&o)
	fail := func(err error) int { return fail(err, "load", fs, loadUsage, stdout, stderr) }
	pos, err := parseArgs(fs, args)
	if err != nil {
		return fail(err)
	}
	cfg, ro, err := o.check(pos)
	if err != nil {
		return fail(err)
	}
	in, err := openInput(o.file(pos), o.format, stdin, o.rejects != "")
	if err != nil {
		return fail(err)
	}
	defer in.Close()
	resp, err := o.run(ctx, cfg, in, ro, stderr)
	if err != nil {
		return fail(err)
	}
	if err := printResult(stdout, resp, o.json); err != nil {
		return fail(err)
	}
	return exitOK
}

func (o *loadOptions) file(pos []string) string {
	if len(pos) == 0 {
		return ""
	}
	return pos[0]
}

// check validates the flags and builds the load's config and how to read
// the input.
func (o *loadOptions) check(pos []string) (*loadsvcv1.LoadConfig, readOptions, error) {
	ro := readOptions{null: o.null.ptr(), sheet: o.sheet}
	if len(pos) > 1 {
		return nil, ro, usageErrorf("one FILE at most, got %d: %s", len(pos), strings.Join(pos, " "))
	}
	if o.table == "" {
		return nil, ro, usageErrorf("--table is required")
	}
	if o.plan && o.dryRun {
		return nil, ro, usageErrorf("--dry-run and --plan do not go together: a plan shows the SQL without touching the database, a dry run runs it and rolls it back")
	}
	if err := o.checkParallel(); err != nil {
		return nil, ro, err
	}
	mode, err := parseMode(o.mode)
	if err != nil {
		return nil, ro, err
	}
	dup, err := parseDuplicates(o.duplicates)
	if err != nil {
		return nil, ro, err
	}
	pk, err := splitColumns(o.pk)
	if err != nil {
		return nil, ro, err
	}
	if ro.comma, err = parseDelimiter(o.delimiter); err != nil {
		return nil, ro, err
	}
	if o.maxRejected < 0 || o.maxDeleted < 0 {
		return nil, ro, usageErrorf("--max-rejected and --max-deleted must be 0 or more")
	}
	if o.rejects != "" && (o.maxRejected == 0 || o.plan) {
		return nil, ro, usageErrorf("--rejects writes the rows a load leaves out under --max-rejected N: give --max-rejected, and no --plan")
	}
	if o.chunkSize < 0 || o.chunkSize > math.MaxInt32 || o.maxPlanRows < 1 {
		return nil, ro, usageErrorf("--chunk-size must be 0 or more and --max-plan-rows 1 or more")
	}
	if o.xlsxTextMiB < 1 || o.xlsxTextMiB > maxXLSXTextMiB {
		return nil, ro, usageErrorf("%s must be from 1 to %d, got %d", flagXLSXText, maxXLSXTextMiB, o.xlsxTextMiB)
	}
	ro.xlsxText = int64(o.xlsxTextMiB) << 20
	o.conn.resolve()
	cfg := &loadsvcv1.LoadConfig{Table: o.table, Schema: o.schema, Mode: mode, Pk: pk, Duplicates: dup,
		ChunkSize: int32(o.chunkSize), RequestId: o.requestID, PlanOnly: o.plan, DryRun: o.dryRun,
		MaxRejectedRows: o.maxRejected, MaxDeletedRows: o.maxDeleted, StampColumn: o.stampColumn, Labels: o.labels}
	return cfg, ro, nil
}

// parseMode maps a lower-case mode name (append, delete_insert, …) to its
// enum value.
func parseMode(name string) (loadsvcv1.Mode, error) {
	v, ok := loadsvcv1.Mode_value["MODE_"+strings.ToUpper(name)]
	if !ok || v == 0 || name != strings.ToLower(name) {
		return 0, usageErrorf("unknown --mode %q: want append, delete_insert, upsert, insert_missing, fill_null_only or replace", name)
	}
	return loadsvcv1.Mode(v), nil
}

// parseDuplicates maps a lower-case duplicates policy (refuse, keep_last,
// keep_all; "" the mode's default) to its enum value.
func parseDuplicates(name string) (loadsvcv1.Duplicates, error) {
	if name == "" {
		return loadsvcv1.Duplicates_DUPLICATES_UNSPECIFIED, nil
	}
	v, ok := loadsvcv1.Duplicates_value["DUPLICATES_"+strings.ToUpper(name)]
	if !ok || v == 0 || name != strings.ToLower(name) {
		return 0, usageErrorf("unknown --duplicates %q: want refuse, keep_last or keep_all", name)
	}
	return loadsvcv1.Duplicates(v), nil
}

// modeName is the lower-case name of a mode, as --mode takes it.
func modeName(m loadsvcv1.Mode) string {
	return strings.ToLower(strings.TrimPrefix(m.String(), "MODE_"))
}

func splitColumns(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	cols := strings.Split(s, ",")
	for i, c := range cols {
		if cols[i] = strings.TrimSpace(c); cols[i] == "" {
			return nil, usageErrorf("--pk %q names an empty column", s)
		}
	}
	return cols, nil
}

func parseDelimiter(s string) (byte, error) {
	if s == `\t` || s == "tab" {
		s = "\t"
	}
	if len(s) != 1 || s[0] == '"' || s[0] == '\n' || s[0] == '\r' || s[0] >= 0x80 {
		return 0, usageErrorf("--delimiter must be one ASCII character other than a quote or a newline, got %q", s)
	}
	return s[0], nil
}

// run loads (or plans) the input. A load refused for its rows comes back
// as a badRowsError that places every bad row in the source; rows left out
// under --max-rejected are printed on stderr the same way, and written to
// --rejects.
func (o *loadOptions) run(ctx context.Context, cfg *loadsvcv1.LoadConfig, in *input, ro readOptions, stderr io.Writer) (*loadsvcv1.LoadResponse, error) {
	src, err := in.rows(ro)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.Labels["source"]; !ok {
		cfg.Labels = maps.Clone(cfg.Labels)
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels["source"] = sourceLabel(in, src)
	}
	c, err := o.conn.dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	loc := &locator{in: in, ro: ro, src: src, idx: &posIndex{}}
	var resp *loadsvcv1.LoadResponse
	if o.plan {
		resp, err = planLoad(ctx, c, cfg, src, in.name, o.maxPlanRows, loc.idx)
	} else {
		prog := startProgress(in, stderr, o.quiet)
		resp, err = o.load(ctx, c, cfg, src, prog, loc)
		prog.Stop(err == nil)
	}
	if err != nil {
		return nil, loc.withPlaces(err)
	}
	return resp, o.reportRejected(loc, resp, stderr)
}

// reportRejected prints the rows a load left out under --max-rejected, one
// line each, and writes them to --rejects.
func (o *loadOptions) reportRejected(loc *locator, resp *loadsvcv1.LoadResponse, stderr io.Writer) error {
	rejected := resp.GetRejected()
	if len(rejected) == 0 {
		return nil
	}
	lines, unplaced := loc.describeAll(rejected)
	fmt.Fprintf(stderr, "loadctl: %s left out (--max-rejected %d):\n", plural(int(resp.GetRejectedRows()), "bad row"), o.maxRejected)
	for _, line := range lines {
		fmt.Fprintln(stderr, line)
	}
	if unplaced != nil {
		fmt.Fprintf(stderr, "loadctl: some rows are named by their place in the load only: %v\n", unplaced)
	}
	if listed, n := len(byRow(rejected)), resp.GetRejectedRows(); n > int64(listed) {
		fmt.Fprintf(stderr, "loadctl: the service lists %d of the %d rows left out (its LOADSVC_MAX_ROW_ERRORS)\n", listed, n)
	}
	if o.rejects == "" {
		return nil
	}
	return writeRejects(o.rejects, loc, rejected)
}

// streamLoad sends every row over one LoadStream: one transaction, memory
// bounded by one batch. A bad row or a cancel aborts the stream, and the
// service rolls everything back. idx records where each row sent is in the
// source.
func streamLoad(ctx context.Context, c *client.Client, cfg *loadsvcv1.LoadConfig, src rowSource, prog *progress, idx *posIndex) (*loadsvcv1.LoadResponse, error) {
	w, err := c.NewWriter(ctx, cfg, client.WriterOptions{})
	if err != nil && ctx.Err() != nil {
		return nil, errCancelled
	}
	if err != nil {
		return nil, err
	}
	for {
		row, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = rowError(w.Write(row), w.Rows(), src)
		}
		if err == nil && ctx.Err() != nil {
			err = errCancelled
		}
		if err != nil {
			w.Abort()
			if ctx.Err() != nil {
				return nil, errCancelled
			}
			return nil, err
		}
		idx.add(src.Pos())
		prog.Add(1)
	}
	prog.AllRead()
	resp, err := w.Close()
	if err != nil && ctx.Err() != nil {
		return nil, errCancelledLate
	}
	return resp, err
}

// The errors of a load interrupted (Ctrl-C, SIGTERM) while rows were being
// sent, and after they all were, when the commit may have raced the cancel.
var (
	errCancelled     = status.Error(codes.Canceled, "interrupted: the load was cancelled and rolled back, nothing was written")
	errCancelledLate = status.Error(codes.Canceled, "interrupted while the service was finishing the load: it was rolled back unless its commit came first")
)

// rowError ties an error the client found in the row just written (a
// column the first rows did not have, say) to where it is in the input.
func rowError(err error, index int64, src rowSource) error {
	if e, ok := client.AsError(err); ok && e.Row >= 0 && int64(e.Row) == index {
		return &inputError{err: err, where: src.Where()}
	}
	return err
}

// inputError is an error about one row, with the row's place in the input.
type inputError struct {
	err   error
	where string
}

func (e *inputError) Error() string { return e.where + ": " + e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// optionalString is a string flag that knows whether it was given.
type optionalString struct {
	value string
	set   bool
}

func (s *optionalString) String() string { return s.value }

func (s *optionalString) Set(v string) error {
	s.value, s.set = v, true
	return nil
}

func (s *optionalString) ptr() *string {
	if !s.set {
		return nil
	}
	return &s.value
}
