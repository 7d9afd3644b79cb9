package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

const historyUsage = `Usage: loadctl history [flags]

Lists the loads the service has recorded (loadsvc.load_history), newest
first: when each started, whether it committed or failed, its table, mode
and counts, how long it took, its load id and labels (the source file, say),
and for a failed load its code and message. With a token, only the loads of
tables the token may write are listed.

--since and --until take a duration back from now (7d, 36h, 90m), a date
(2024-11-01, UTC) or a time (2024-11-01T09:30:00+08:00).

Exit status: 0 listed, 1 failed, 2 usage error.
`

// historyOptions are the flags of "loadctl history".
type historyOptions struct {
	conn    connOptions
	table   string
	schema  string
	since   string
	until   string
	status  string
	limit   int
	json    bool
	timeout time.Duration
}

func newHistoryFlags(o *historyOptions) *flag.FlagSet {
	fs := newFlagSet("history")
	o.conn.register(fs)
	fs.StringVar(&o.table, "table", "", "only the loads of this `table`")
	fs.StringVar(&o.schema, "schema", "", "only the loads of tables in this `schema`")
	fs.StringVar(&o.since, "since", "", "only loads started at or after `when`: 7d, 36h, 2024-11-01, or an RFC 3339 time")
	fs.StringVar(&o.until, "until", "", "only loads started before `when` (as --since)")
	fs.StringVar(&o.status, "status", "", "only loads with this `status`: committed or failed")
	fs.IntVar(&o.limit, "limit", 50, "list at most `N` loads")
	fs.BoolVar(&o.json, "json", false, "print the records as a JSON array (LoadRecord)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up after this long")
	return fs
}

func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o historyOptions
	fs := newHistoryFlags(&o)
	fail := func(err error) int { return fail(err, "history", fs, historyUsage, stdout, stderr) }
	pos, err := parseArgs(fs, args)
	if err != nil {
		return fail(err)
	}
	req, err := o.request(pos, time.Now())
	if err != nil {
		return fail(err)
	}
	c, ctx, done, err := o.conn.dialWithin(ctx, o.timeout)
	if err != nil {
		return fail(err)
	}
	defer done()
	recs, err := c.History(ctx, req, o.limit)
	if err != nil {
		return fail(err)
	}
	if o.json {
		err = printRecordsJSON(stdout, recs)
	} else {
		err = printRecords(stdout, recs)
	}
	if err != nil {
		return fail(err)
	}
	return exitOK
}

// request checks the flags and builds the ListLoads request.
func (o *historyOptions) request(pos []string, now time.Time) (*loadsvcv1.ListLoadsRequest, error) {
	if len(pos) > 0 {
		return nil, usageErrorf("no arguments expected, got %q", pos)
	}
	if o.status != "" && o.status != "committed" && o.status != "failed" {
		return nil, usageErrorf("unknown --status %q: want committed or failed", o.status)
	}
	if o.limit < 1 {
		return nil, usageErrorf("--limit must be 1 or more, got %d", o.limit)
	}
	req := &loadsvcv1.ListLoadsRequest{Schema: o.schema, Table: o.table, Status: o.status}
	for _, f := range []struct {
		name, value string
		dst         **timestamppb.Timestamp
	}{{"--since", o.since, &req.Since}, {"--until", o.until, &req.Until}} {
		if f.value == "" {
			continue
		}
		t, err := parseWhen(f.value, now)
		if err != nil {
			return nil, usageErrorf("%s %q: %v", f.name, f.value, err)
		}
		*f.dst = timestamppb.New(t)
	}
	return req, nil
}

// parseWhen reads a time: a duration back from now (7d, 36h, 90m), a date
// (UTC) or an RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want a duration back from now (7d, 36h, 90m), a date (2024-11-01) or an RFC 3339 time")
}

// printRecords writes the records as an aligned table, times in UTC.
func printRecords(w io.Writer, recs []*loadsvcv1.LoadRecord) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED (UTC)\tSTATUS\tTABLE\tMODE\tROWS\tINSERTED\tUPDATED\tDELETED\tREJECTED\tDURATION\tLOAD ID\tLABELS\tERROR")
	for _, r := range recs {
		table := r.GetTable()
		if r.GetSchema() != "" {
			table = r.GetSchema() + "." + table
		}
		failure := ""
		if r.GetStatus() != "committed" {
			failure = strings.TrimSpace(r.GetCode() + " " + oneLine(r.GetMessage()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n",
			r.GetStartedAt().AsTime().UTC().Format(time.DateTime), r.GetStatus(), table, modeName(r.GetMode()),
			r.GetRows(), r.GetInserted(), r.GetUpdated(), r.GetDeleted(), r.GetRejected(),
			r.GetDuration().AsDuration().Round(time.Millisecond), r.GetLoadId(), labelsText(r.GetLabels()), failure)
	}
	return tw.Flush()
}

// printRecordsJSON writes the records as one JSON array.
func printRecordsJSON(w io.Writer, recs []*loadsvcv1.LoadRecord) error {
	parts := make([]string, len(recs))
	for i, r := range recs {
		b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(r)
		if err != nil {
			return err
		}
		parts[i] = string(b)
	}
	_, err := fmt.Fprintf(w, "[%s]\n", strings.Join(parts, ",\n"))
	return err
}

// labelsText is labels as k=v, sorted by key, comma-separated.
func labelsText(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + labels[k]
	}
	return oneLine(strings.Join(keys, ","))
}

// oneLine is s with its line breaks and tabs as spaces, for a table cell.
func oneLine(s string) string { return cellSpacer.Replace(s) }

// cellSpacer is built once: a Replacer builds its tables on first use, and
// oneLine runs twice per record.
var cellSpacer = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ")
