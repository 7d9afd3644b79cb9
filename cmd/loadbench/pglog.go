package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// pgLog reads the statement durations PostgreSQL logs (with
// log_min_duration_statement set), to show where a figure's time went in
// the database: which statement of a load took how long.
type pgLog struct {
	path   string
	offset int64
}

// logDurations makes PostgreSQL log every statement that runs minMS or longer.
func (d *database) logDurations(ctx context.Context, minMS int) error {
	for _, sql := range []string{
		fmt.Sprintf("ALTER SYSTEM SET log_min_duration_statement = %d", minMS),
		"SELECT pg_reload_conf()",
	} {
		if _, err := d.conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

// mark remembers the end of the log: durations reads from there.
func (l *pgLog) mark() {
	if st, err := os.Stat(l.path); err == nil {
		l.offset = st.Size()
	}
}

var durationRE = regexp.MustCompile(`duration: ([0-9.]+) ms  (?:statement|execute [^:]*): (.*)`)

// statementTime is one logged statement.
type statementTime struct {
	ms  float64
	sql string
}

// durations returns the statements logged since mark, in order.
func (l *pgLog) durations() []statementTime {
	f, err := os.Open(l.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(l.offset, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(f)
	var out []statementTime
	for _, m := range durationRE.FindAllStringSubmatch(string(b), -1) {
		ms, _ := strconv.ParseFloat(m[1], 64)
		sql := strings.Join(strings.Fields(m[2]), " ")
		if len(sql) > 110 {
			sql = sql[:107] + "..."
		}
		out = append(out, statementTime{ms: ms, sql: sql})
	}
	return out
}
