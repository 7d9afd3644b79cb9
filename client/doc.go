// Package client is loadsvc's Go client for pipeline workers.
//
// A Client wraps one gRPC connection to loadsvc. Load sends a batch of rows in
// one request and retries it safely: it gives every load a request_id, so a
// retry after a connection lost during COMMIT is answered from the service's
// ledger instead of writing twice. A Writer streams any number of rows over
// LoadStream in bounded memory, all in one transaction.
//
//	c, err := client.Dial("loadsvc:50051", client.Options{Token: token})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	resp, err := c.Load(ctx, &loadsvcv1.LoadConfig{Table: "nav", Pk: []string{"day", "code"}},
//		[]client.Row{{"day": "2024-11-01", "code": "P001", "nav": 1.25}})
//	if e, ok := client.AsError(err); ok && e.SQLState == "23505" {
//		// duplicate key: e.Constraint, e.Detail say which
//	}
//
// A dry run (LoadConfig.DryRun, with Load or a Writer) runs the load exactly
// as it would run — the same session, statements and database checks — and
// rolls it back: the response has the real counts (Deleted: the rows the
// load would delete) and DryRun set, its errors are those the real load
// would meet, and nothing is written. A service too old to know dry runs
// would commit; Load and Close then return an error saying so.
//
// Rows travel in the compact typed form (TypedRows): one typed array per
// column, no per-row keys. A Row maps column names to Go values; see Row for
// how each Go type is sent. Every error Load, Health and a Writer return is an
// *Error (AsError), carrying what the status details say: the SQLSTATE,
// constraint and detail of a database failure, the field and row of a bad
// request, and every bad row of a load refused for its rows (RowErrors).
//
// LoadConfig carries the other settings as the service takes them:
// MaxRejectedRows lets a load leave up to that many bad rows out and write
// the others (LoadResponse.Rejected lists them), Labels are recorded with
// the load in the service's history (LoadResponse.LoadId names it),
// StampColumn receives the load_id in every row written, and
// MaxDeletedRows refuses a load that would delete more. History lists the
// recorded loads, newest first.
package client
