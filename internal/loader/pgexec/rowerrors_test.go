package pgexec_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

// scaleTable is a 规模明细-shaped table: identity id, a date, a varchar(12)
// code NOT NULL, numeric amounts and a numeric(10,6) rate, a CHECK, an
// integer column.
const scaleTable = `CREATE TABLE "规模明细" (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "月度" date NOT NULL,
  "业务类型" varchar(255),
  "计划代码" varchar(12) NOT NULL,
  "期末资产规模" numeric(18,4),
  "当期收益率" numeric(10,6),
  "供款" numeric(18,4) CHECK ("供款" >= 0),
  "户数" integer)`

// sevenCells are the seven bad cells: row, column, value (nil:
// an empty cell) and PostgreSQL's SQLSTATE for it.
var sevenCells = []struct {
	row      int
	column   string
	value    any
	sqlstate string
}{
	{17, "月度", "2024-13-01", "22008"},
	{250, "期末资产规模", "一百万", "22P02"},
	{511, "当期收益率", "12345.678", "22003"},
	{800, "计划代码", "P0123456789012345678901", "22001"},
	{1203, "计划代码", nil, "23502"},
	{1555, "供款", "-5", "23514"},
	{1999, "户数", "3.5", "22P02"},
}

// scaleRows are n good rows of the table, key tuples ("月度", "业务类型")
// alternating between two business types, with the seven cells spoiled.
func scaleRows(n int) []row {
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{"月度": "2024-11-01", "业务类型": []string{"企年受托", "职年投资"}[i%2], "计划代码": fmt.Sprintf("P%05d", i),
			"期末资产规模": fmt.Sprintf("%d.25", i), "当期收益率": "0.012345", "供款": "10", "户数": fmt.Sprint(i)}
	}
	for _, c := range sevenCells {
		if c.row < n {
			rows[c.row][c.column] = c.value
		}
	}
	return rows
}

// stream is a Source of a batch's rows in parts of size rows, numbered as
// in the whole load, that cannot be read again: as a LoadStream's are.
type stream struct {
	b    *loader.Batch
	size int
	next int
}

func (s *stream) Next(context.Context) (*loader.Batch, error) {
	n := s.b.Len()
	if s.next >= n {
		return nil, io.EOF
	}
	end := min(s.next+s.size, n)
	w := len(s.b.Columns)
	part := &loader.Batch{Columns: s.b.Columns, Values: append([]loader.Field(nil), s.b.Values[s.next*w:end*w]...), Offset: s.next}
	s.next = end
	return part, nil
}

// rowErrors asserts err is a LoadError listing row errors, and returns them.
func rowErrors(t *testing.T, err error) (*loader.LoadError, *loader.RowErrors) {
	t.Helper()
	le := loadError(t, err)
	if le.Rows == nil {
		t.Fatalf("LoadError %q lists no rows", le.Message)
	}
	return le, le.Rows
}

// wantSeven checks that errs name the seven cells, each with its row,
// column (none for the CHECK, a verdict on the row) and SQLSTATE.
func wantSeven(t *testing.T, errs *loader.RowErrors) {
	t.Helper()
	var got, want []string
	for _, e := range errs.Errors {
		got = append(got, fmt.Sprintf("%d %s %s %q", e.Row, e.Column, e.SQLState, e.Value))
		if e.Message == "" {
			t.Errorf("row %d has no message", e.Row)
		}
	}
	for _, c := range sevenCells {
		col, value := c.column, ""
		if c.sqlstate == "23514" {
			col = ""
		} else if c.value != nil {
			value = c.value.(string)
		}
		want = append(want, fmt.Sprintf("%d %s %s %q", c.row, col, c.sqlstate, value))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs.Truncated || errs.Rows != 7 {
		t.Errorf("truncated %v, rows %d; want false, 7", errs.Truncated, errs.Rows)
	}
}

func TestRowErrorsSevenCells(t *testing.T) {
	t.Parallel()
	rows := scaleRows(2000)
	for _, mode := range []loader.Mode{loader.ModeAppend, loader.ModeDeleteInsert, loader.ModeUpsert} {
		for _, streamed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", mode, streamed), func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				b.sql(t, scaleTable)
				cfg := loader.Config{Table: "规模明细", Mode: mode, ChunkSize: 300}
				switch mode {
				case loader.ModeDeleteInsert:
					cfg.Keys = []string{"月度", "业务类型"}
				case loader.ModeUpsert:
					cfg.Keys = []string{"期末资产规模"}
				}
				var src loader.Source = loader.OneBatch(testrows.Batch(t, rows))
				if streamed {
					src = &stream{b: testrows.Batch(t, rows), size: 170}
				}
				_, err := b.exec.Run(ctxT(t), cfg, src)
				le, errs := rowErrors(t, err)
				wantSeven(t, errs)
				if le.SQLState != "22008" || le.Kind != loader.KindInvalidData || le.Column != "月度" {
					t.Errorf("failure %s %v column %q, want the first bad row's: 22008, invalid data, 月度", le.SQLState, le.Kind, le.Column)
				}
				if n := b.count(t, `SELECT count(*) FROM "规模明细"`); n != 0 {
					t.Errorf("%d rows written by a failed load", n)
				}
				b.assertClean(t)
			})
		}
	}
}

func TestRowErrorsReportedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sql(t, scaleTable)
	_, err := b.exec.Run(ctxT(t), loader.Config{Table: "规模明细", Mode: loader.ModeAppend}, loader.OneBatch(testrows.Batch(t, scaleRows(2000))))
	le, _ := rowErrors(t, err)
	if !strings.Contains(le.Message, "row 17") || !strings.Contains(le.Message, "7 bad rows") {
		t.Errorf("message %q names neither the first row nor the count", le.Message)
	}
	if !errors.As(err, new(*loader.LoadError)) {
		t.Errorf("not a LoadError")
	}
}
