package server

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// message is a LoadRequest or LoadStreamRequest as it came off the wire:
// its bytes, copied once out of gRPC's buffers. The handlers decode it
// themselves, after the call was admitted and its rows counted, so that no
// request is decoded before it is known to be acceptable.
type message struct {
	buf []byte
}

// The fields of LoadRequest and LoadStreamRequest (the same numbers).
const (
	fieldConfig    = 1
	fieldRows      = 2
	fieldTypedRows = 3
)

// codec is gRPC's proto codec, except that a *message keeps its bytes
// undecoded. ServerOptions installs it.
type codec struct{}

var protoCodec = encoding.GetCodecV2(protoenc.Name)

func (codec) Name() string { return protoenc.Name }

func (codec) Marshal(v any) (mem.BufferSlice, error) { return protoCodec.Marshal(v) }

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*message); ok {
		m.buf = data.Materialize()
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}

// parts is a message split into its fields, nothing decoded yet. Its rows
// are only counted, and marked every scanPartRows rows: they are gathered
// when they are decoded, so that a message of millions of rows over the
// limit costs nothing but its marks (16 bytes a part).
type parts struct {
	msg    []byte
	config [][]byte  // LoadConfig occurrences, merged as proto does
	typed  [][]byte  // TypedRows occurrences, merged
	rows   int       // JSON rows: Struct occurrences
	marks  []rowMark // where every scanPartRows-th JSON row begins, the first excepted
}

// rowMark is row row of a message, whose field begins at byte at.
type rowMark struct{ at, row int }

// split walks the message's top-level fields only: the cheap pass that
// counts its rows before any of them is decoded.
func (m *message) split() (parts, error) {
	p := parts{msg: m.buf}
	end := 0 // where the field before ends, and so this one begins
	err := eachField(m.buf, func(num protowire.Number, typ protowire.Type, raw []byte) error {
		start := end
		end = cap(m.buf) - cap(raw) + len(raw)
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldConfig:
			p.config = append(p.config, raw)
		case fieldRows:
			if p.rows > 0 && p.rows%scanPartRows == 0 {
				p.marks = append(p.marks, rowMark{at: start, row: p.rows})
			}
			p.rows++
		case fieldTypedRows:
			p.typed = append(p.typed, raw)
		}
		return nil
	})
	if err != nil {
		return p, &loader.ValidationError{Field: "request", Row: -1, Reason: "the request is not a valid protobuf message: " + err.Error()}
	}
	return p, nil
}

// decodeConfig is the message's LoadConfig, nil when it carries none.
func (p parts) decodeConfig() (*loadsvcv1.LoadConfig, error) {
	if len(p.config) == 0 {
		return nil, nil
	}
	c := &loadsvcv1.LoadConfig{}
	for _, b := range p.config {
		if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(b, c); err != nil {
			return nil, &loader.ValidationError{Field: "config", Row: -1, Reason: "the config is not a valid LoadConfig: " + err.Error()}
		}
	}
	return c, nil
}

// maxColumns is PostgreSQL's own limit on a table's columns.
const maxColumns = 1600

// maxCells bounds rows × columns of one message (about 200 MB of decoded
// fields): a few bytes of empty rows after one row with many keys would
// otherwise allocate far beyond the message's size.
const maxCells = 8 << 20

// decodeRows decodes the message's rows, JSON or typed, into one batch
// whose first row is row offset of the load. fixed, when set, are the
// columns of the stream that a JSON message may leave out but not add to.
// cfg is the admitted load's: its row limit refuses a message before any
// row is decoded, its key columns are checked in every JSON row.
func (p parts) decodeRows(cfg *loader.Config, offset int, fixed []string) (*loader.Batch, error) {
	if typed, err := p.typedForm(); typed || err != nil {
		return p.decodeOther(cfg, offset, err)
	}
	j, err := p.jsonRows(cfg, offset, fixed)
	if err != nil {
		return nil, err
	}
	return j.batch()
}

// rowSource is decodeRows as a source that decodes JSON rows a slice at a
// time, as the load copies them.
func (p parts) rowSource(cfg *loader.Config) (loader.Source, error) {
	if typed, err := p.typedForm(); typed || err != nil {
		b, err := p.decodeOther(cfg, 0, err)
		return loader.OneBatch(b), err
	}
	return p.jsonRows(cfg, 0, nil)
}

// typedForm reports whether the message's rows are typed (or absent): its
// typed_rows hold a column, or it has no JSON rows. A typed_rows without a
// column is no typed rows, as proto reads it, but it must parse.
func (p parts) typedForm() (bool, error) {
	columns := false
	for _, tr := range p.typed {
		err := eachField(tr, func(num protowire.Number, typ protowire.Type, _ []byte) error {
			columns = columns || (num == typedColumns && typ == protowire.BytesType)
			return nil
		})
		if err != nil {
			return true, err
		}
	}
	return columns || p.rows == 0, nil
}

// decodeOther decodes typed rows, or none; malformed is typedForm's error.
func (p parts) decodeOther(cfg *loader.Config, offset int, malformed error) (*loader.Batch, error) {
	switch {
	case malformed != nil:
		return nil, &loader.ValidationError{Field: "typed_rows", Row: -1, Reason: "typed_rows is not a valid TypedRows: " + malformed.Error()}
	case p.rows > 0:
		return nil, &loader.ValidationError{Field: "typed_rows", Row: -1, Reason: "a message carries rows or typed_rows, not both"}
	case len(p.typed) == 0:
		return nil, nil
	}
	return decodeTyped(cfg, p.typed, offset)
}

// jsonRows checks the JSON rows against the row limit and scans them,
// before any value is decoded.
func (p parts) jsonRows(cfg *loader.Config, offset int, fixed []string) (*jsonRows, error) {
	if err := cfg.CheckRows(offset + p.rows); err != nil {
		return nil, err // counted on the wire, nothing decoded
	}
	j := newJSONRows(p.msg, p.rows, offset, cfg.Keys, fixed)
	j.marks = p.marks
	if err := j.scan(maxColumns); err != nil {
		return nil, err
	}
	j.sortColumns()
	if err := checkCells(p.rows, len(j.columns), "rows"); err != nil {
		return nil, err
	}
	return j, nil
}

// checkCells refuses a message of more than maxCells values, before they
// are decoded.
func checkCells(rows, columns int, field string) error {
	if cells := rows * columns; cells > maxCells {
		return &loader.ValidationError{Field: field, Row: -1, Limit: true, Reason: fmt.Sprintf(
			"the message carries %d rows × %d columns = %d values, more than %d a message; send fewer rows a message (LoadStream)", rows, columns, cells, maxCells)}
	}
	return nil
}

// budget bounds the request bytes that the server holds decoded at once,
// server-wide (LOADSVC_MAX_INFLIGHT_BYTES). A request waits for its share
// while its context lasts; one larger than the whole budget is refused.
type budget struct {
	sem   *semaphore.Weighted
	total int64
}

func newBudget(total int64) *budget {
	if total <= 0 {
		return nil
	}
	return &budget{sem: semaphore.NewWeighted(total), total: total}
}

// acquire takes n bytes of the budget, waiting while ctx allows, and
// returns the function that gives them back.
func (b *budget) acquire(ctx context.Context, n int) (func(), error) {
	if b == nil || n == 0 {
		return func() {}, nil
	}
	if int64(n) > b.total {
		return nil, &loader.ValidationError{Field: "request", Row: -1, Limit: true, Reason: fmt.Sprintf(
			"the message is %d bytes, more than the server's whole budget of %d bytes being decoded at once (LOADSVC_MAX_INFLIGHT_BYTES); send smaller messages", n, b.total)}
	}
	if err := b.sem.Acquire(ctx, int64(n)); err != nil {
		return nil, err
	}
	return sync.OnceFunc(func() { b.sem.Release(int64(n)) }), nil
}
