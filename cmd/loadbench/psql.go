package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// psql runs psql scripts against the benchmark database, as a person
// loading by hand would.
type psql struct {
	bin string
	url string
	dir string
}

// run runs script with ON_ERROR_STOP and returns psql's output: one command
// tag a line.
func (p *psql) run(ctx context.Context, name, script string) (string, error) {
	path := filepath.Join(p.dir, name+".sql")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, p.bin, "-X", "-v", "ON_ERROR_STOP=1", "-d", p.url, "-f", path)
	cmd.Env = serverEnv() // no PG* variables: the URL says it all
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("psql -f %s: %v\n%s%s", path, err, out.String(), errb.String())
	}
	return out.String(), nil
}

// copyScript is the baseline append: psql \copy of the CSV file.
func copyScript(csvPath string) string {
	return fmt.Sprintf("\\copy %s (%s) FROM %s WITH (FORMAT csv)\n", tableName, strings.Join(columns, ", "), sqlLiteral(csvPath))
}

// batchedCopyScript is the append of (b) by hand: psql \copy of each CSV
// file of paths in a transaction of its own, as each Load request is.
func batchedCopyScript(paths []string) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "BEGIN;\n%sCOMMIT;\n", copyScript(p))
	}
	return b.String()
}

// stagedScript is delete_insert by hand: the CSV rows into a TEMP table
// (columns cols of table), then one DELETE and one INSERT, in one
// transaction. The DELETE joins the stage itself over a unique key, or the
// stage's distinct key tuples with distinctKeys (a refresh key, which many
// rows share).
func stagedScript(table string, cols, key []string, csvPath string, distinctKeys bool) string {
	var match []string
	for _, k := range key {
		match = append(match, "t."+k+" = s."+k)
	}
	keys := "s"
	if distinctKeys {
		keys = "(SELECT DISTINCT " + strings.Join(key, ", ") + " FROM s) AS s"
	}
	list := strings.Join(cols, ", ")
	return fmt.Sprintf(`BEGIN;
CREATE TEMP TABLE s ON COMMIT DROP AS SELECT %[2]s FROM %[1]s WITH NO DATA;
\copy s (%[2]s) FROM %[3]s WITH (FORMAT csv)
ANALYZE s;
DELETE FROM %[1]s AS t USING %[4]s WHERE %[5]s;
INSERT INTO %[1]s (%[2]s) SELECT %[2]s FROM s;
COMMIT;
`, table, list, sqlLiteral(csvPath), keys, strings.Join(match, " AND "))
}

// checkStagedTags checks psql's output of a stagedScript that copies,
// deletes and inserts rows rows each.
func checkStagedTags(out string, rows int) error {
	tags := tagCounts(out)
	if tags["COPY"] != int64(rows) || tags["DELETE"] != int64(rows) || tags["INSERT 0"] != int64(rows) {
		return fmt.Errorf("psql says COPY %d, DELETE %d, INSERT %d; want %d each:\n%s", tags["COPY"], tags["DELETE"], tags["INSERT 0"], rows, out)
	}
	return nil
}

var tagRE = regexp.MustCompile(`(?m)^(COPY|DELETE|INSERT 0) (\d+)$`)

// tagCounts returns the row count of each command tag in psql's output:
// "COPY", "DELETE", "INSERT 0".
func tagCounts(out string) map[string]int64 {
	m := map[string]int64{}
	for _, sm := range tagRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(sm[2], 10, 64)
		m[sm[1]] += n
	}
	return m
}

func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
