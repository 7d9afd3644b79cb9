package server

import (
	"context"
	"fmt"

	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// message is a LoadRequest or LoadStreamRequest as it came off the wire,
// undecoded: gRPC's buffers, until the request's claim on the budget holds
// their size, then its bytes, copied once out of them. The handlers decode
// it themselves, after the call was admitted and its rows counted, so that
// no request is decoded before it is known to be acceptable.
type message struct {
	data mem.BufferSlice // as gRPC received it, until admit
	buf  []byte
}

// The fields of LoadRequest and LoadStreamRequest (the same numbers), and
// of LoadConfig that a decoder counts.
const (
	fieldConfig    = 1
	fieldRows      = 2
	fieldTypedRows = 3
	configPk       = 4
)

// layout is where a request message keeps its config and its rows; 0 for
// a field it has not. AppendRowsRequest numbers them its own way.
type layout struct{ config, rows, typed protowire.Number }

// loadLayout is LoadRequest's and LoadStreamRequest's.
var loadLayout = layout{config: fieldConfig, rows: fieldRows, typed: fieldTypedRows}

// codec is gRPC's proto codec, except that a *message keeps its bytes
// undecoded. ServerOptions installs it.
type codec struct{}

var protoCodec = encoding.GetCodecV2(protoenc.Name)

func (codec) Name() string { return protoenc.Name }

func (codec) Marshal(v any) (mem.BufferSlice, error) { return protoCodec.Marshal(v) }

// Unmarshal keeps a *message's buffers as they are, for its handler to
// admit.
func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*message); ok {
		data.Ref()
		m.data = data
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}

// admit copies the message's bytes out of gRPC's buffers once cl holds
// them, waiting while ctx allows, and gives the buffers back either way.
func (m *message) admit(ctx context.Context, cl *claim) error {
	defer m.free()
	if err := cl.take(ctx, int64(m.data.Len())); err != nil {
		return err
	}
	m.buf = m.data.Materialize()
	return nil
}

// free gives gRPC's buffers back, once: after admit, or when the call
// ends without admitting its message (refused before its handler read it).
func (m *message) free() {
	m.data.Free()
	m.data = nil
}

// parts is a message split into its fields, nothing decoded yet: its rows
// are only counted.
type parts struct {
	msg    []byte
	config []byte           // the LoadConfig, nil when none
	typed  []byte           // the TypedRows, nil when none
	rows   int              // JSON rows: Struct occurrences
	field  protowire.Number // the JSON rows' field
}

// split walks the message's top-level fields only: the cheap pass that
// counts its rows before any of them is decoded. A config or typed_rows
// given twice is refused (errNonCanonical).
func (m *message) split() (parts, error) { return m.splitAs(loadLayout) }

// splitAs is split for a message whose fields are where l says.
func (m *message) splitAs(l layout) (parts, error) {
	p := parts{msg: m.buf, field: l.rows}
	err := eachField(m.buf, func(num protowire.Number, typ protowire.Type, raw []byte) error {
		if typ != protowire.BytesType || num == 0 {
			return nil
		}
		switch num {
		case l.config:
			return once(&p.config, raw)
		case l.rows:
			p.rows++
		case l.typed:
			return once(&p.typed, raw)
		}
		return nil
	})
	if err != nil {
		return p, &loader.ValidationError{Field: "request", Row: -1, Reason: "the request is not a valid protobuf message: " + err.Error()}
	}
	return p, nil
}

// once sets a singular message field, refusing it given twice.
func once(field *[]byte, raw []byte) error {
	if *field != nil {
		return errNonCanonical
	}
	*field = raw
	return nil
}

// decodeConfig is the message's LoadConfig, nil when it carries none. Its
// repeated fields are counted before they are decoded.
func (p parts) decodeConfig() (*loadsvcv1.LoadConfig, error) {
	if p.config == nil {
		return nil, nil
	}
	refuse := func(err error) error {
		return &loader.ValidationError{Field: "config", Row: -1, Reason: "the config is not a valid LoadConfig: " + err.Error()}
	}
	keys, err := countField(p.config, configPk, protowire.BytesType)
	if err != nil {
		return nil, refuse(err)
	}
	if keys > loader.MaxKeys {
		return nil, &loader.ValidationError{Field: "config.pk", Row: -1, Reason: fmt.Sprintf("pk names %d key columns; at most %d (PostgreSQL's limit on an index's columns)", keys, loader.MaxKeys)}
	}
	if err := countLabels(p.config); err != nil {
		return nil, err
	}
	c := &loadsvcv1.LoadConfig{}
	if err := proto.Unmarshal(p.config, c); err != nil {
		return nil, refuse(err)
	}
	return c, nil
}

// decodeRows decodes the message's rows, JSON or typed, into one batch
// whose first row is row offset of the load. fixed, when set, are the
// columns of the stream that a JSON message may leave out but not add to.
// The rows are counted against cfg's limit and scanned first; the batch
// they decode to is claimed before it is built.
func (p parts) decodeRows(ctx context.Context, cfg *loader.Config, c *claim, offset int, fixed []string) (*loader.Batch, error) {
	// A typed_rows without a column is no typed rows, as proto reads it,
	// but it must parse.
	columns, err := countField(p.typed, typedColumns, protowire.BytesType)
	switch {
	case err != nil:
		return nil, &loader.ValidationError{Field: "typed_rows", Row: -1, Reason: "typed_rows is not a valid TypedRows: " + err.Error()}
	case columns > 0 && p.rows > 0:
		return nil, &loader.ValidationError{Field: "typed_rows", Row: -1, Reason: "a message carries rows or typed_rows, not both"}
	case columns > 0 || p.rows == 0:
		return decodeTyped(ctx, cfg, c, p.typed, columns, offset)
	}
	if err := cfg.CheckRows(offset + p.rows); err != nil {
		return nil, err // counted on the wire, nothing decoded
	}
	j := newJSONRows(ctx, p.msg, p.rows, offset, fixed)
	j.rowsField = p.field
	if err := j.scan(); err != nil {
		return nil, err
	}
	if err := cfg.CheckCells(offset, p.rows, len(j.columns), "rows"); err != nil {
		return nil, err
	}
	if err := c.take(ctx, j.decodedBytes()); err != nil {
		return nil, err
	}
	return j.fill()
}
