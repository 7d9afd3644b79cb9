package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// rssLimit is the target for the server's peak RSS while it streams
// 5,000,000 rows.
const rssLimit = 200 << 20

// results is everything a run measured.
type results struct {
	rows      int
	figures   []*figure
	peakRSS   int64 // over the whole run
	streamRSS int64 // while the RSS stream ran; 0 when it did not
	rssRows   int
	// rounds are each figure's rows/s in every round, in order: a figure
	// and its baseline ran one after the other in each.
	rounds map[string][]float64
}

func (r *results) find(key string) *figure {
	for _, f := range r.figures {
		if f.key == key {
			return f
		}
	}
	return nil
}

// isBaseline reports whether some figure is compared with figure key.
func (r *results) isBaseline(key string) bool {
	for _, f := range r.figures {
		if f.baseline == key {
			return true
		}
	}
	return false
}

// letters name the figures as the issue does.
var letters = map[string]string{
	"copy": "(a)", "batched_copy": "(b')", "load_json": "(b)", "stream_append": "(c)", "stream_delete_insert": "(d)",
	"staged_delete_insert": "(e)", "big_delete_insert": "(f)", "empty_delete_insert": "(f0)", "staged_big_delete_insert": "(f')",
	"refresh_delete_insert": "(g)", "staged_refresh_delete_insert": "(g')", "pgx_copy": "(h)", "rss_stream": "(rss)", "session_parallel": "(s)",
	"bad_rows": "(bad)",
}

// print writes the figures as a table: rows/s, the ratio to the baseline
// and the target, and where the CPU went.
func (r *results) print(w io.Writer) {
	t := [][]string{{"figure", "rows/s", "seconds", "ratio", "target", "result", "cpu s: server", "postgres", "client", "other", "cpu µs/row"}}
	for _, f := range r.figures {
		ratio, target, result := "", "", ""
		if base := r.find(f.baseline); base != nil {
			q := f.rate() / base.rate()
			ratio = fmt.Sprintf("%.2f", q)
			if f.target > 0 {
				target = fmt.Sprintf(">= %.2f x %s", f.target, letters[base.key])
				result = passMiss(q >= f.target)
				if f.noisy() || base.noisy() {
					result += " (noisy)"
				}
			}
		} else if r.isBaseline(f.key) {
			ratio, target = "1.00", "baseline"
		}
		t = append(t, []string{letters[f.key] + " " + f.key, thousands(int64(math.Round(f.rate()))), fmt.Sprintf("%.2f", f.elapsed.Seconds()),
			ratio, target, result, fmt.Sprintf("%.1f", f.cpu.server.Seconds()), fmt.Sprintf("%.1f", f.cpu.postgres.Seconds()),
			fmt.Sprintf("%.1f", f.cpu.client.Seconds()), fmt.Sprintf("%.1f", f.cpu.other().Seconds()),
			fmt.Sprintf("%.1f", float64((f.cpu.server+f.cpu.postgres+f.cpu.client).Microseconds())/float64(f.rows))})
	}
	writeTable(w, t, "lrrrllrrrrr")
	fmt.Fprintln(w)
	for _, f := range r.figures {
		fmt.Fprintf(w, "  %-5s %-28s %s", letters[f.key], f.key, f.label)
		if f.note != "" {
			fmt.Fprintf(w, " (%s)", f.note)
		}
		fmt.Fprintln(w)
	}
	r.printRounds(w)
	r.printRatio(w, "load_json", "copy", "Load against one psql \\copy of all the rows")
	r.printRatio(w, "stream_append", "copy", "LoadStream append against psql \\copy")
	if bad, c := r.find("bad_rows"), r.find("stream_append"); bad != nil && c != nil {
		q := bad.elapsed.Seconds() / c.elapsed.Seconds()
		fmt.Fprintf(w, "  (bad) took %.2f× the time of (c), the clean stream of the same rows, to report its %d bad values (target <= %.0f×): %s\n",
			q, badValues, badRowsTarget, passMiss(q <= badRowsTarget))
	}
	r.printRatio(w, "big_delete_insert", "empty_delete_insert", "the same delete_insert into the big table and into an empty one")
	if big, d := r.find("big_delete_insert"), r.find("stream_delete_insert"); big != nil && d != nil {
		fmt.Fprintf(w, "  (f)/(d) = %.2f: the same delete_insert of keys present, into a table %d× larger\n", big.rate()/d.rate(), big.tableRows/d.tableRows)
	}
	fmt.Fprintln(w, "  cpu s: CPU seconds each party used during the figure; other: processes outside the benchmark (noise);\n  cpu µs/row: server + postgres + client CPU per row, which noise disturbs less than rows/s;\n  (noisy): other processes took more than a fifth of the machine's CPU during the figure or its baseline;\n  rerun on a quiet machine, or with BENCH_REPEAT=3 to keep the fastest of three rounds")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "server peak RSS (VmHWM) over the whole run: %s\n", mib(r.peakRSS))
	if r.streamRSS > 0 {
		verdict := passMiss(r.streamRSS < rssLimit)
		if r.rssRows < 5_000_000 {
			verdict = "not judged: the target is for 5,000,000 rows"
		}
		fmt.Fprintf(w, "server peak RSS while streaming %s rows: %s (target < %s streaming 5,000,000 rows): %s\n",
			thousands(int64(r.rssRows)), mib(r.streamRSS), mib(rssLimit), verdict)
	} else {
		fmt.Fprintf(w, "server peak RSS target (< %s streaming 5,000,000 rows): not run (runs by default from BENCH_ROWS=1000000 on, or with BENCH_RSS=1)\n", mib(rssLimit))
	}
}

// printRounds prints, with more than one round, each targeted figure's
// ratio to its baseline round by round. The table holds the fastest run
// of each, which may come from different rounds; the machine's speed moves
// both figures of one round alike, so the spread shows how far to trust
// a ratio near its target.
func (r *results) printRounds(w io.Writer) {
	for _, f := range r.figures {
		fr, br := r.rounds[f.key], r.rounds[f.baseline]
		if f.target == 0 || len(fr) < 2 || len(fr) != len(br) {
			continue
		}
		q := make([]string, len(fr))
		for i := range fr {
			q[i] = fmt.Sprintf("%.2f", fr[i]/br[i])
		}
		fmt.Fprintf(w, "  %s/%s round by round: %s\n", letters[f.key], letters[f.baseline], strings.Join(q, ", "))
	}
}

// printRatio prints the ratio of figure key to figure other, when both ran:
// a comparison besides the one the target is on.
func (r *results) printRatio(w io.Writer, key, other, what string) {
	if f, o := r.find(key), r.find(other); f != nil && o != nil {
		fmt.Fprintf(w, "  %s/%s = %.2f: %s\n", letters[key], letters[other], f.rate()/o.rate(), what)
	}
}

// writeTable writes rows in aligned columns, align[i] 'l' or 'r'.
func writeTable(w io.Writer, rows [][]string, align string) {
	width := make([]int, len(align))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if align[i] == 'r' {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

// jsonReport is the BENCH_JSON object: rows/s of each figure.
type jsonReport struct {
	Rows                      int      `json:"rows"`
	Copy                      float64  `json:"copy"`
	BatchedCopy               float64  `json:"batched_copy"`
	LoadJSON                  float64  `json:"load_json"`
	StreamAppend              float64  `json:"stream_append"`
	SessionParallel           float64  `json:"session_parallel"`
	StreamDeleteInsert        float64  `json:"stream_delete_insert"`
	StagedDeleteInsert        float64  `json:"staged_delete_insert"`
	PgxCopy                   float64  `json:"pgx_copy"`
	RefreshDeleteInsert       float64  `json:"refresh_delete_insert"`
	StagedRefreshDeleteInsert float64  `json:"staged_refresh_delete_insert"`
	BigDeleteInsert           *float64 `json:"big_delete_insert,omitempty"`
	// EmptyDeleteInsert and StagedBigDeleteInsert run with big_delete_insert.
	EmptyDeleteInsert     *float64 `json:"empty_delete_insert,omitempty"`
	StagedBigDeleteInsert *float64 `json:"staged_big_delete_insert,omitempty"`
	ServerPeakRSSBytes    int64    `json:"server_peak_rss_bytes"`
}

func (r *results) writeJSON(path string) error {
	rate := func(key string) float64 {
		if f := r.find(key); f != nil {
			return math.Round(f.rate()*10) / 10
		}
		return 0
	}
	j := jsonReport{
		Rows: r.rows, Copy: rate("copy"), BatchedCopy: rate("batched_copy"), LoadJSON: rate("load_json"), StreamAppend: rate("stream_append"), SessionParallel: rate("session_parallel"),
		StreamDeleteInsert: rate("stream_delete_insert"), StagedDeleteInsert: rate("staged_delete_insert"),
		PgxCopy: rate("pgx_copy"), RefreshDeleteInsert: rate("refresh_delete_insert"), StagedRefreshDeleteInsert: rate("staged_refresh_delete_insert"),
		ServerPeakRSSBytes: r.peakRSS,
	}
	if r.find("big_delete_insert") != nil {
		big, empty, staged := rate("big_delete_insert"), rate("empty_delete_insert"), rate("staged_big_delete_insert")
		j.BigDeleteInsert, j.EmptyDeleteInsert, j.StagedBigDeleteInsert = &big, &empty, &staged
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// progress logs a step to stderr with the time since start, unless quiet.
func progress(start time.Time, quiet bool) func(string, ...any) {
	return func(format string, args ...any) {
		if quiet {
			return
		}
		fmt.Fprintf(os.Stderr, "loadbench %6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
}
