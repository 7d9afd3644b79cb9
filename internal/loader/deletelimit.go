package loader

import "fmt"

// DeleteLimitError is a load that deleted more rows than its config's
// MaxDeletedRows allows: found inside its transaction, right after the
// DELETE, and rolled back, so it writes nothing (a dry run is refused the
// same way).
type DeleteLimitError struct {
	Table   string // the table as written in SQL
	Deleted int64  // rows the load deleted before it was stopped
	Limit   int64
}

func (e *DeleteLimitError) Error() string {
	return fmt.Sprintf("the load would delete %d rows of %s, more than max_deleted_rows=%d allows; nothing was written (check the keys, or raise the limit)",
		e.Deleted, e.Table, e.Limit)
}

// CheckDeleted refuses a load that has deleted more than MaxDeletedRows.
func (c *Config) CheckDeleted(deleted int64) error {
	if c.MaxDeletedRows <= 0 || deleted <= c.MaxDeletedRows {
		return nil
	}
	return &DeleteLimitError{Table: c.Target(), Deleted: deleted, Limit: c.MaxDeletedRows}
}
