package server

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The decoders of this package read requests straight off the wire with
// protowire. They refuse everything proto.Unmarshal refuses, and a little
// more that no protobuf library emits (errNonCanonical), so that every
// field is read once and the work stays linear in the bytes received.

var (
	errInvalidUTF8 = errors.New("string field contains invalid UTF-8")
	// errNonCanonical is a singular message field given twice, which proto
	// would merge; no protobuf library writes one, and merging them is
	// work a hostile request could multiply.
	errNonCanonical = errors.New("a singular message field appears more than once (a non-canonical encoding no protobuf library writes)")
)

// nextField splits the first field off msg: its number, wire type and
// value — a length-delimited field's bytes without their length, a
// varint's or a fixed field's own bytes. Groups, unknown fields here, are
// skipped; num is 0 when only they were left. The common case, a one-byte
// tag and a length of one or two bytes, takes no call into protowire.
func nextField(msg []byte) (num protowire.Number, typ protowire.Type, val, rest []byte, err error) {
	if len(msg) >= 2 && msg[0] < 0x80 && msg[0]>>3 != 0 && msg[0]&7 == byte(protowire.BytesType) {
		if n, size, ok := shortLength(msg[1:]); ok && 1+size+n <= len(msg) {
			start := 1 + size
			return protowire.Number(msg[0] >> 3), protowire.BytesType, msg[start : start+n], msg[start+n:], nil
		}
	}
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return 0, 0, nil, nil, fmt.Errorf("malformed message: %w", protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return 0, 0, nil, nil, fmt.Errorf("malformed message: field number %d out of range", num)
		}
		msg = msg[n:]
		m := protowire.ConsumeFieldValue(num, typ, msg)
		if m < 0 {
			return 0, 0, nil, nil, fmt.Errorf("malformed message: %w", protowire.ParseError(m))
		}
		switch typ {
		case protowire.StartGroupType:
			msg = msg[m:]
			continue
		case protowire.BytesType:
			v, _ := protowire.ConsumeBytes(msg)
			return num, typ, v, msg[m:], nil
		}
		return num, typ, msg[:m], msg[m:], nil
	}
	return 0, 0, nil, nil, nil
}

// shortLength reads a varint length of one or two bytes from b (not
// empty): its value and size; ok is false for a longer one.
func shortLength(b []byte) (n, size int, ok bool) {
	switch {
	case b[0] < 0x80:
		return int(b[0]), 1, true
	case len(b) >= 2 && b[1] < 0x80:
		return int(b[0]&0x7f) | int(b[1])<<7, 2, true
	}
	return 0, 0, false
}

// eachField calls fn for every field of a message with its number, wire
// type and value (see nextField), refusing malformed input as
// proto.Unmarshal does.
func eachField(msg []byte, fn func(num protowire.Number, typ protowire.Type, val []byte) error) error {
	for len(msg) > 0 {
		num, typ, val, rest, err := nextField(msg)
		if err != nil || num == 0 {
			return err
		}
		msg = rest
		if err := fn(num, typ, val); err != nil {
			return err
		}
	}
	return nil
}

// countField counts the occurrences of field num, of wire type typ, in msg
// and checks that msg parses: what a decoder asks before it allocates for
// a repeated field.
func countField(msg []byte, num protowire.Number, typ protowire.Type) (int, error) {
	n := 0
	err := eachField(msg, func(got protowire.Number, t protowire.Type, _ []byte) error {
		if got == num && t == typ {
			n++
		}
		return nil
	})
	return n, err
}

// The values of fields whose wire type nextField has checked.
func fixed64(b []byte) uint64 { v, _ := protowire.ConsumeFixed64(b); return v }
func varint(b []byte) uint64  { v, _ := protowire.ConsumeVarint(b); return v }
