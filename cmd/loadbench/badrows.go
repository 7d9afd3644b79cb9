package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// badValues is how many bad values the bad_rows figure spreads through its
// rows.
const badValues = 100

// badRowsTarget is the most times the time of (c), the clean stream of the
// same rows, that reporting every bad value may take.
const badRowsTarget = 3.0

// badRow is the index of bad value k of rows: spread evenly, off the
// message boundaries.
func badRow(k, rows int) int { return k*rows/badValues + rows/(2*badValues) }

// badMessages are the data set's typed messages with badValues values
// spoiled, alternately a date that does not exist and a nav that is no
// number; the messages without a bad row are the clean ones, shared.
func badMessages(o *options, clean [][]byte) ([][]byte, error) {
	out := append([][]byte(nil), clean...)
	spoiled := map[int]*loadsvcv1.LoadStreamRequest{}
	for k := 0; k < badValues; k++ {
		i := badRow(k, o.Rows)
		m := i / o.MsgRows
		if spoiled[m] == nil {
			from := m * o.MsgRows
			spoiled[m] = typedMessage(from, min(from+o.MsgRows, o.Rows), false)
		}
		cols := spoiled[m].GetTypedRows().GetColumns()
		if k%2 == 0 {
			cols[0].Texts[i%o.MsgRows] = "2024-13-01" // report_date
		} else {
			cols[4].Texts[i%o.MsgRows] = "n/a" // nav
		}
	}
	for m, msg := range spoiled {
		b, err := proto.Marshal(msg)
		if err != nil {
			return nil, err
		}
		out[m] = b
	}
	return out, nil
}

// (bad) LoadStream append of the rows of (c) with badValues bad values: the
// load fails, names every one of them and writes nothing.
func (b *bench) badRows(ctx context.Context) (*figure, error) {
	f := &figure{key: "bad_rows", label: fmt.Sprintf("LoadStream append of the rows of (c) with %d bad values, all reported, nothing written", badValues),
		rows: b.data.rows, baseline: "stream_append", target: 1 / badRowsTarget}
	msgs, err := badMessages(b.opt, b.data.typed)
	if err != nil {
		return f, err
	}
	prepare := func() error { return b.db.prepare(ctx, 0) }
	run := func() error {
		_, err := b.stream(ctx, b.navConfig(loadsvcv1.Mode_MODE_APPEND), func(send func(any) error) error {
			for _, m := range msgs {
				if err := send(rawMessage(m)); err != nil {
					return err
				}
			}
			return nil
		})
		return wantBadRows(err, b.data.rows)
	}
	check := func() error {
		var n int64
		if err := b.db.conn.QueryRow(ctx, "SELECT count(*) FROM "+tableName).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			return fmt.Errorf("a load that failed wrote %d rows", n)
		}
		return nil
	}
	return f, b.timed(ctx, f, prepare, run, check)
}

// wantBadRows checks that err is the failure of the bad_rows load:
// INVALID_ARGUMENT (a bad date comes first) listing exactly the bad rows.
func wantBadRows(err error, rows int) error {
	if err == nil {
		return fmt.Errorf("the load of %d bad values succeeded", badValues)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return fmt.Errorf("want INVALID_ARGUMENT listing %d bad rows, got %w", badValues, err)
	}
	for _, d := range st.Details() {
		re, ok := d.(*loadsvcv1.RowErrors)
		if !ok {
			continue
		}
		errs := re.GetErrors()
		if len(errs) != badValues || re.GetTruncated() {
			return fmt.Errorf("RowErrors lists %d rows (truncated %v), want %d", len(errs), re.GetTruncated(), badValues)
		}
		for k, e := range errs {
			if want := int64(badRow(k, rows)); e.GetRow() != want {
				return fmt.Errorf("bad row %d is row %d, want %d", k, e.GetRow(), want)
			}
		}
		return nil
	}
	return fmt.Errorf("the failure has no RowErrors detail: %w", err)
}
