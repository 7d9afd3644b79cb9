package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// printResult writes what a load did: an aligned table, or with asJSON the
// LoadResponse as protojson. A plan prints its SQL script, runnable by psql.
func printResult(w io.Writer, resp *loadsvcv1.LoadResponse, asJSON bool) error {
	switch {
	case asJSON:
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitUnpopulated: true}.Marshal(resp)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case resp.GetPlanOnly():
		_, err := io.WriteString(w, resp.GetSqlScript())
		return err
	default:
		return printTable(w, resp)
	}
}

func printTable(w io.Writer, r *loadsvcv1.LoadResponse) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	skipped := strings.Join(r.GetSkippedColumns(), ", ")
	if skipped == "" {
		skipped = "-"
	}
	for _, kv := range [][2]any{
		{"table", r.GetTable()},
		{"mode", modeName(r.GetMode())},
		{"rows", r.GetRows()},
		{"deleted", r.GetDeleted()},
		{"inserted", r.GetInserted()},
		{"updated", r.GetUpdated()},
		{"skipped", r.GetSkipped()},
		{"duplicates dropped", r.GetDuplicatesDropped()},
		{"rejected", r.GetRejectedRows()},
		{"batches", r.GetBatches()},
		{"skipped columns", skipped},
	} {
		fmt.Fprintf(tw, "%s\t%v\n", kv[0], kv[1])
	}
	if r.GetLoadId() != "" {
		fmt.Fprintf(tw, "load id\t%s\n", r.GetLoadId())
	}
	if r.GetReplayed() {
		fmt.Fprintf(tw, "replayed\tyes: loaded before under this request id, nothing written now\n")
	}
	if r.GetDryRun() {
		fmt.Fprintf(tw, "dry run\tyes: the load ran and was rolled back, nothing was written\n")
	}
	return tw.Flush()
}

// printError writes a failure as "loadctl: <Code>: <message>", then the
// details the status carries, one per line; an error of loadctl's own (a bad
// file, say) as "loadctl: <message>".
func printError(w io.Writer, err error) {
	if e, ok := client.AsError(err); ok {
		fmt.Fprintf(w, "loadctl: %s: %s\n", e.Code, e.Message)
		printDetails(w, e)
		if be := (*badRowsError)(nil); errors.As(err, &be) {
			printBadRows(w, be)
		}
		if ie := (*inputError)(nil); errors.As(err, &ie) {
			fmt.Fprintf(w, "  input: %s\n", ie.where)
		}
		if strings.Contains(e.Message, "DUPLICATES_KEEP_LAST") {
			fmt.Fprintln(w, "  hint: --duplicates keep_last keeps the last row of each key")
		}
		return
	}
	fmt.Fprintf(w, "loadctl: %v\n", err)
}

func printDetails(w io.Writer, e *client.Error) {
	for _, kv := range [][2]string{
		{"reason", e.Reason},
		{"sqlstate", e.SQLState},
		{"constraint", e.Constraint},
		{"schema", e.Schema},
		{"table", e.Table},
		{"column", e.Column},
		{"detail", e.Detail},
		{"field", e.Field},
	} {
		if kv[1] != "" {
			fmt.Fprintf(w, "  %s: %s\n", kv[0], kv[1])
		}
	}
}
