package loader

import (
	"fmt"
	"regexp"
	"slices"
)

// Labels are what a load is recorded with in its history, beside its
// table: the source file, the pipeline run, the worker host.
type Labels map[string]string

// The limits of a load's labels.
const (
	MaxLabels          = 16
	MaxLabelValueBytes = 256
)

// labelKey is what a label's key may be.
var labelKey = regexp.MustCompile(`^[a-z0-9_.-]{1,63}$`)

// Check refuses more than MaxLabels labels, a key that is not
// [a-z0-9_.-]{1,63}, or a value longer than MaxLabelValueBytes, naming
// the label. Keys are checked in order, so the refusal is
// the same whatever the map's order.
func (l Labels) Check() error {
	if len(l) > MaxLabels {
		return invalid("config.labels", -1, "the load carries %d labels; at most %d", len(l), MaxLabels)
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field := fmt.Sprintf("config.labels[%q]", Cap(k))
		if !labelKey.MatchString(k) {
			return invalid(field, -1, "label key %q is not 1 to 63 of a-z, 0-9, '_', '.' and '-'", Cap(k))
		}
		if v := l[k]; len(v) > MaxLabelValueBytes {
			return invalid(field, -1, "label %s has a value of %d bytes; at most %d", k, len(v), MaxLabelValueBytes)
		}
	}
	return nil
}

// checkHistory checks what a config adds for the load's history and
// lineage: its labels, the stamp column's name and the delete limit.
func (c *Config) checkHistory() error {
	if err := c.Labels.Check(); err != nil {
		return err
	}
	if c.StampColumn != "" {
		if err := CheckIdent(c.StampColumn); err != nil {
			return invalid("config.stamp_column", -1, "stamp_column name %v", err)
		}
	}
	if c.MaxDeletedRows < 0 {
		return invalid("config.max_deleted_rows", -1, "max_deleted_rows %d is negative; 0 means no limit", c.MaxDeletedRows)
	}
	return nil
}
