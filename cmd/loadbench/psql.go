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

// stagedScript is the baseline delete_insert, by hand: the rows into a TEMP
// table, then one DELETE and one INSERT, in one transaction.
func stagedScript(csvPath string) string {
	var match []string
	for _, k := range keyColumns {
		match = append(match, "t."+k+" = s."+k)
	}
	return fmt.Sprintf(`BEGIN;
CREATE TEMP TABLE s ON COMMIT DROP AS SELECT * FROM %[1]s WITH NO DATA;
\copy s (%[2]s) FROM %[3]s WITH (FORMAT csv)
ANALYZE s;
DELETE FROM %[1]s AS t USING s WHERE %[4]s;
INSERT INTO %[1]s SELECT * FROM s;
COMMIT;
`, tableName, strings.Join(columns, ", "), sqlLiteral(csvPath), strings.Join(match, " AND "))
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
