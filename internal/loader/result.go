package loader

// Result is what an executed load did.
type Result struct {
	Deleted, Inserted, Updated, Skipped int64
	DuplicatesDropped                   int64
	Rows                                int64 // rows the load carried
	Batches                             int
	Statements                          []Statement
	SkippedColumns                      []string
	// Replayed says the result is the recorded one of an earlier load with
	// the same request id; nothing was written this time.
	Replayed bool
	// DryRun says the load ran and was rolled back.
	DryRun bool
	// Resolved says the catalog found the target table, even for a load
	// that failed after.
	Resolved bool
	// LoadID is the load's id; a replay's is the recorded load's.
	LoadID string
	// Unrecorded is why a failed load's history record could not be
	// written: the caller's log line is then its record.
	Unrecorded string `json:"-"`
	// RejectedRows counts the bad rows left out under the config's
	// MaxRejectedRows; Rejected lists them (at most MaxRowErrors).
	RejectedRows int64
	Rejected     []RowError `json:",omitempty"`
}
