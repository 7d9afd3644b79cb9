package main

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// The refresh table is shaped like the pipeline's monthly scale table
// (CONTRACT.md § Refresh keys): an identity id, text columns, DECIMAL(18,4)
// amounts and DECIMAL(10,6) rates, timestamps filled by defaults, an index
// on the refresh key and no unique constraint on it. A load replaces every
// row of the key tuples it carries, thousands of rows a tuple.
const refreshTable = "bench_scale"

// refreshColumns are the columns a load writes, in table order (also the
// CSV order); batch tells which rows a load put there.
var refreshColumns = []string{"month", "business_type", "plan_type", "plan_code", "plan_name", "portfolio_code",
	"client_name", "company_id", "opening_assets", "closing_assets", "contribution", "benefit_paid", "fees",
	"transfer_in", "transfer_out", "period_return", "annual_return", "batch"}

// refreshKey is the refresh key: month, business type, plan type.
var refreshKey = refreshColumns[:3]

const createRefreshSQL = `CREATE TABLE ` + refreshTable + ` (
	id             integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	month          date NOT NULL,
	business_type  varchar(255),
	plan_type      varchar(255),
	plan_code      varchar(255) NOT NULL,
	plan_name      varchar(255),
	portfolio_code varchar(255),
	client_name    varchar(255),
	company_id     varchar(50) NOT NULL,
	opening_assets DECIMAL(18,4),
	closing_assets DECIMAL(18,4),
	contribution   DECIMAL(18,4),
	benefit_paid   DECIMAL(18,4),
	fees           DECIMAL(18,4),
	transfer_in    DECIMAL(18,4),
	transfer_out   DECIMAL(18,4),
	period_return  DECIMAL(10,6),
	annual_return  DECIMAL(10,6),
	batch          varchar(50),
	created_at     timestamptz DEFAULT CURRENT_TIMESTAMP,
	updated_at     timestamptz DEFAULT CURRENT_TIMESTAMP
) WITH (autovacuum_enabled = off)`

const indexRefreshKeySQL = `CREATE INDEX ON ` + refreshTable + ` (month, business_type, plan_type)`

// The key tuples: row i of a load has tuple i%refreshTuples, one of two
// months × two business types × two plan types. Kept rows have another
// month: no load touches them.
const refreshTuples = 8

var (
	refreshMonths = []string{"2024-10-01", "2024-11-01"}
	businessTypes = []string{"trustee", "investment"}
	planTypes     = []string{"single", "collective"}
)

const keptMonth = "2024-09-01"

// The batches: the rows a load brings, the rows it replaces, the rows it
// must leave alone.
const (
	freshBatch = "fresh"
	staleBatch = "stale"
	keptBatch  = "kept"
)

// refreshRow is one generated row of the refresh table; numbers are scaled
// integers.
type refreshRow struct {
	month, business, planType string
	plan, company             int
	amounts                   [7]int64 // × 10⁻⁴, DECIMAL(18,4); amounts[1] is closing_assets
	rates                     [2]int64 // × 10⁻⁶, DECIMAL(10,6)
	batch                     string
}

// genRefreshRow is row i of batch, a pure function of both. A stale row
// has the key and values of the fresh row i but for closing_assets.
func genRefreshRow(i int, batch string) refreshRow {
	t := i % refreshTuples
	w := refreshRow{
		month: refreshMonths[t/4], business: businessTypes[t/2%2], planType: planTypes[t%2],
		plan: i / refreshTuples % plans, company: i%companies + 1, batch: batch,
	}
	h := splitmix64(uint64(i) + 0xacce55)
	for k := range w.amounts {
		h = splitmix64(h)
		w.amounts[k] = int64(h % 1_000_000_000_000) // < 100,000,000.0000
	}
	for k := range w.rates {
		h = splitmix64(h)
		w.rates[k] = int64(h%400_001) - 200_000
	}
	switch batch {
	case staleBatch:
		w.amounts[1]++
	case keptBatch:
		w.month = keptMonth
	}
	return w
}

// texts are the row's values in refreshColumns order, as PostgreSQL input
// text; none needs CSV quoting.
func (w *refreshRow) texts() []string {
	code, company := keyTexts().plans[w.plan], keyTexts().companies[w.company]
	t := []string{w.month, w.business, w.planType, code, "Plan " + code, code + "-" + strconv.Itoa(w.company%4),
		"Client " + company, company}
	for _, a := range w.amounts {
		t = append(t, scaledText(a, 4))
	}
	for _, r := range w.rates {
		t = append(t, scaledText(r, 6))
	}
	return append(t, w.batch)
}

// refreshCSV is rows [0, to) of batch as CSV.
func refreshCSV(to int, batch string) *csvReader {
	return &csvReader{to: to, line: func(b []byte, i int) []byte {
		w := genRefreshRow(i, batch)
		b = append(b, strings.Join(w.texts(), ",")...)
		return append(b, '\n')
	}}
}

// refreshMessages is the fresh rows [0, rows) as LoadStreamRequests of
// msgRows typed rows each, in wire form.
func refreshMessages(rows, msgRows int) ([][]byte, error) {
	var msgs [][]byte
	for from := 0; from < rows; from += msgRows {
		cols := make([][]string, len(refreshColumns))
		for i := from; i < min(from+msgRows, rows); i++ {
			w := genRefreshRow(i, freshBatch)
			for j, v := range w.texts() {
				cols[j] = append(cols[j], v)
			}
		}
		b, err := proto.Marshal(typedRequest(refreshColumns, cols))
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, b)
	}
	return msgs, nil
}

// keptRows is how many rows of another month the refresh table holds
// besides the stale rows a load of rows rows replaces.
func keptRows(rows int) int { return max(1, rows/refreshTuples) }

// refreshClosingSum is sum(closing_assets) of a correctly refreshed table,
// as PostgreSQL prints it.
func refreshClosingSum(rows int) string {
	var sum big.Int
	add := func(n int, batch string) {
		for i := range n {
			w := genRefreshRow(i, batch)
			sum.Add(&sum, big.NewInt(w.amounts[1]))
		}
	}
	add(rows, freshBatch)
	add(keptRows(rows), keptBatch)
	return bigScaled(&sum, 4)
}

// prepareRefresh makes a fresh refresh table holding stale rows [0, rows)
// and the kept rows, indexed, vacuumed and analyzed, and checkpoints: every
// round of a refresh figure starts from the same table.
func (d *database) prepareRefresh(ctx context.Context, rows int) error {
	if err := d.execAll(ctx, "DROP TABLE IF EXISTS "+refreshTable, createRefreshSQL); err != nil {
		return err
	}
	want := int64(rows + keptRows(rows))
	copySQL := "COPY " + refreshTable + " (" + strings.Join(refreshColumns, ", ") + ") FROM STDIN WITH (FORMAT csv)"
	tag, err := d.conn.PgConn().CopyFrom(ctx, io.MultiReader(refreshCSV(rows, staleBatch), refreshCSV(keptRows(rows), keptBatch)), copySQL)
	if err != nil {
		return fmt.Errorf("fill %s: %w", refreshTable, err)
	}
	if tag.RowsAffected() != want {
		return fmt.Errorf("fill %s: COPY wrote %d rows, not %d", refreshTable, tag.RowsAffected(), want)
	}
	return d.execAll(ctx, indexRefreshKeySQL, "VACUUM (ANALYZE) "+refreshTable, "CHECKPOINT")
}

// refreshPrint is what a check reads back from the refresh table.
type refreshPrint struct {
	count, fresh, kept int64
	closing            string
	hash               string // sum of a hash of each row's written columns
}

func (d *database) refreshPrint(ctx context.Context) (*refreshPrint, error) {
	var p refreshPrint
	err := d.conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE batch = '`+freshBatch+`'),
		count(*) FILTER (WHERE batch = '`+keptBatch+`'), coalesce(sum(closing_assets), 0)::text,
		coalesce(sum(hashtext(concat_ws(',', `+strings.Join(refreshColumns, ", ")+`))::bigint), 0)::text
		FROM `+refreshTable).Scan(&p.count, &p.fresh, &p.kept, &p.closing, &p.hash)
	if err != nil {
		return nil, fmt.Errorf("read back %s: %w", refreshTable, err)
	}
	return &p, nil
}

// checkRefresh checks that the refresh table holds the fresh rows and the
// kept rows, nothing else, and that its row hash is the one the first
// refresh figure of the run left.
func (b *bench) checkRefresh(ctx context.Context) error {
	got, err := b.db.refreshPrint(ctx)
	if err != nil {
		return err
	}
	rows, kept := b.data.rows, keptRows(b.data.rows)
	want := refreshPrint{count: int64(rows + kept), fresh: int64(rows), kept: int64(kept), closing: b.data.refreshClosing, hash: b.refreshMix}
	if want.hash == "" {
		want.hash = got.hash
	}
	if *got != want {
		return fmt.Errorf("%s does not hold the rows it should: got %+v, want %+v", refreshTable, *got, want)
	}
	b.refreshMix = got.hash
	return nil
}

// measureRefresh times run against a refresh table holding the stale rows
// of the data set's key tuples and the kept rows.
func (b *bench) measureRefresh(ctx context.Context, f *figure, run func() error) error {
	f.tableRows = b.data.rows + keptRows(b.data.rows)
	b.logf("%s: filling %s with %d rows", f.key, refreshTable, f.tableRows)
	return b.timed(ctx, f, func() error { return b.db.prepareRefresh(ctx, b.data.rows) }, run, func() error { return b.checkRefresh(ctx) })
}

// (g') psql refresh by hand: \copy into a TEMP table, DELETE the rows of
// the stage's distinct key tuples, INSERT SELECT, in one transaction.
func (b *bench) stagedRefresh(ctx context.Context) (*figure, error) {
	f := &figure{key: "staged_refresh_delete_insert", label: "psql: \\copy to TEMP, DELETE USING (SELECT DISTINCT key), INSERT; refresh key", rows: b.data.rows}
	err := b.measureRefresh(ctx, f, func() error {
		script := stagedScript(refreshTable, refreshColumns, refreshKey, b.data.refreshCSVPath, true)
		out, err := b.psql.run(ctx, "staged_refresh", script)
		if err != nil {
			return err
		}
		return checkStagedTags(out, f.rows)
	})
	return f, err
}

// (g) LoadStream delete_insert over the refresh key, duplicates
// unspecified: every row of the load is kept, every target row of its key
// tuples deleted.
func (b *bench) refreshDeleteInsert(ctx context.Context) (*figure, error) {
	f := &figure{key: "refresh_delete_insert", label: b.streamLabel("delete_insert") + fmt.Sprintf(", refresh key of %d tuples", refreshTuples),
		rows: b.data.rows, baseline: "staged_refresh_delete_insert", target: 0.9}
	cfg := &loadsvcv1.LoadConfig{Table: refreshTable, Mode: loadsvcv1.Mode_MODE_DELETE_INSERT, Pk: refreshKey, ChunkSize: int32(b.opt.ChunkSize)}
	err := b.measureRefresh(ctx, f, func() error {
		return b.streamMessages(ctx, cfg, b.data.refreshTyped, f.rows, f.rows)
	})
	return f, err
}
