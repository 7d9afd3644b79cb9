package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/pgtext"
)

// The field numbers of google.protobuf.Struct, Value and ListValue.
const (
	structFields   = 1 // Struct.fields: map<string, Value>
	entryKey       = 1
	entryValue     = 2
	valueNull      = 1
	valueNumber    = 2
	valueString    = 3
	valueBool      = 4
	valueStruct    = 5
	valueList      = 6
	listValues     = 1
	maxJSONNesting = 10000 // protobuf-go's own recursion limit
)

// jsonRows decodes the JSON rows of one message — repeated
// google.protobuf.Struct, one per row — straight from the wire into a batch,
// with no Struct object per row. It keeps the semantics of decoding the
// Structs first: the columns are the sorted union of the rows' keys (or the
// stream's columns, which a later message may leave out but not add to), a
// key missing from a row is NULL, a number is plain decimal, an object or
// list is its JSON text with sorted keys, and a map key given twice in one
// row keeps its last value.
//
// Text values point into msg, which the batch keeps alive: a message is
// copied once off the wire and never again.
type jsonRows struct {
	msg     []byte    // the message, whose rows field holds one Struct a row
	marks   []rowMark // where its parts of scanPartRows rows begin
	cursor  []byte    // what Next has not decoded yet
	done    int       // rows decoded
	rows    int
	offset  int // the index of the first row in the load
	columns []string
	index   map[string]int
	fixed   bool           // columns come from the stream's first message
	arena   []byte         // the current batch's number texts
	spare   []loader.Field // the current batch's fields
	// keyNames are the load's key columns, keys their positions in it,
	// and keyAt, for the scan alone, the position of each column it found
	// (-1: not a key), which an entry asks once it has found its column.
	keyNames []string
	keys     map[string]int
	keyAt    []int
	// slots remembers where each column name was last found, by a cheap
	// hash of the name, so that finding one takes a single comparison in
	// whatever order the rows give their keys.
	slots [64]uint16
}

// newJSONRows is the rows of msg, the first of which is row offset of the
// load, not yet scanned; fixed are a stream's columns, nil for a message
// that finds its own.
func newJSONRows(msg []byte, rows, offset int, keys, fixed []string) *jsonRows {
	j := &jsonRows{msg: msg, rows: rows, offset: offset, keyNames: keys, keys: make(map[string]int, len(keys)), index: make(map[string]int, len(fixed))}
	for i, k := range keys {
		j.keys[k] = i
	}
	if fixed != nil {
		j.columns, j.fixed = fixed, true
		for i, c := range fixed {
			j.index[c] = i
			j.keyAt = append(j.keyAt, j.keyOf(c))
		}
	}
	return j
}

// scan finds the columns of the rows and checks every value, before any
// row is decoded, so that a bad request is refused before the load takes a
// connection: names that cannot be identifiers, more than maxColumns of
// them, a row with no column, a key column missing or null, text that
// PostgreSQL cannot store.
//
// PostgreSQL waits while a unary request is scanned, so a large one is
// scanned by two scanners at once when there is a second CPU. Only a clean
// request is accepted that way: any refusal is found again by the
// sequential scan, which says which comes first.
func (j *jsonRows) scan(maxColumns int) error {
	if j.rows >= parallelScanRows && runtime.GOMAXPROCS(0) > 1 && j.scanParallel(maxColumns) {
		return nil
	}
	if !j.fixed { // what a refused part found is found again
		j.columns, j.index, j.keyAt = nil, make(map[string]int), nil
	}
	return j.scanRows(j.msg, 0, maxColumns)
}

// parallelScanRows is the size from which a message's rows are scanned by
// two scanners at once, in parts of scanPartRows rows.
const parallelScanRows, scanPartRows = 4096, 256

// scanParallel scans the rows with two scanners, each taking the next part
// of scanPartRows rows until none is left, and takes the union of their
// columns. Parts rather than halves: the scanner on a new goroutine starts
// a quarter of a millisecond late, and then simply takes fewer. It reports
// false, leaving j for the sequential scan, when a part is refused or the
// union has too many columns.
func (j *jsonRows) scanParallel(maxColumns int) bool {
	if len(j.marks) == 0 {
		return false
	}
	var next atomic.Int64
	var refused atomic.Bool
	scan := func(s *jsonRows) {
		for !refused.Load() {
			k := int(next.Add(1)) - 1
			if k > len(j.marks) {
				return
			}
			from, first, to := 0, 0, len(j.msg)
			if k > 0 {
				from, first = j.marks[k-1].at, j.marks[k-1].row
			}
			if k < len(j.marks) {
				to = j.marks[k].at
			}
			if s.scanRows(j.msg[from:to], first, maxColumns) != nil {
				refused.Store(true)
			}
		}
	}
	scanners := [2]*jsonRows{j.scanner(), j.scanner()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		scan(scanners[1])
	}()
	scan(scanners[0])
	<-done
	if refused.Load() {
		return false
	}
	if j.fixed {
		return true
	}
	j.columns, j.index = scanners[0].columns, scanners[0].index
	for _, c := range scanners[1].columns {
		if _, ok := j.index[c]; !ok {
			j.index[c] = len(j.columns)
			j.columns = append(j.columns, c)
		}
	}
	return len(j.columns) <= maxColumns
}

// scanner is a scanner for some of j's rows: its own columns, unless the
// stream fixed them (then only read).
func (j *jsonRows) scanner() *jsonRows {
	h := &jsonRows{offset: j.offset, keyNames: j.keyNames, keys: j.keys, fixed: j.fixed, columns: j.columns, index: j.index, keyAt: j.keyAt}
	if !j.fixed {
		h.columns, h.index, h.keyAt = nil, make(map[string]int), nil
	}
	return h
}

// scanRows scans the rows in msg, the first of which is row first of the
// message. It walks the fields itself, as scanRow does the entries, with no
// callback per row or entry as eachField and eachEntry take: PostgreSQL
// waits for this loop.
func (j *jsonRows) scanRows(msg []byte, first, maxColumns int) error {
	var missing keyMissing
	for i := first; len(msg) > 0; {
		num, typ, row, rest, err := nextField(msg)
		if err != nil {
			return err
		}
		if num == 0 {
			break
		}
		msg = rest
		if num != fieldRows || typ != protowire.BytesType {
			continue
		}
		if err := j.scanRow(i, row, &missing); err != nil {
			return err
		}
		i++
	}
	return missing.err(j)
}

// scanRow scans row i: its entries' names and values, and which keys it
// holds.
func (j *jsonRows) scanRow(i int, row []byte, missing *keyMissing) error {
	entries, keys := 0, uint64(0)
	for len(row) > 0 {
		num, typ, e, rest, err := nextField(row)
		if err != nil {
			return err
		}
		if num == 0 {
			break
		}
		row = rest
		if num != structFields || typ != protowire.BytesType {
			continue
		}
		key, value, err := mapEntry(e)
		if err != nil {
			return err
		}
		entries++
		c, err := j.column(i, key)
		if err != nil {
			return err
		}
		present, err := j.check(i, key, value)
		// The loader's intake checks key values again, batch by batch, for
		// every source; this check is what lets a bad row of a unary
		// request, decoded lazily, be refused before any connection.
		if k := j.keyAt[c]; k >= 0 { // the last entry of a key wins
			keys &^= 1 << k
			if present {
				keys |= 1 << k
			}
		}
		if err != nil {
			return err
		}
	}
	if entries == 0 {
		n := j.offset + i
		return &loader.ValidationError{Field: "rows[" + strconv.Itoa(n) + "]", Row: n, Reason: fmt.Sprintf(
			"row %d carries no column: every row needs at least one column value (null counts)", n)}
	}
	missing.note(j.offset+i, keys, len(j.keyNames))
	return nil
}

// column interns a row's column name, refusing one that cannot be, and
// returns its index.
func (j *jsonRows) column(i int, key []byte) (int, error) {
	if c, ok := j.columnOf(key); ok {
		return c, nil
	}
	if !utf8.Valid(key) { // a known name is valid
		return 0, errInvalidUTF8
	}
	name := string(key)
	if j.fixed {
		return 0, invalidRow(j.offset+i, name, "row %d: column %s is not among the columns of the load (%s); the first message of a stream fixes them",
			j.offset+i, loader.QuoteIdent(name), quoteNames(j.columns))
	}
	if err := loader.CheckIdent(name); err != nil {
		return 0, invalidRow(j.offset+i, name, "row %d: column name %v", j.offset+i, err)
	}
	if len(j.index) >= maxColumns {
		return 0, &loader.ValidationError{Field: "rows", Row: j.offset + i, Reason: fmt.Sprintf(
			"row %d brings column number %d; a load may carry at most %d distinct columns (PostgreSQL's own limit)", j.offset+i, len(j.index)+1, maxColumns)}
	}
	j.index[name] = len(j.columns)
	j.columns = append(j.columns, name)
	j.keyAt = append(j.keyAt, j.keyOf(name))
	return len(j.columns) - 1, nil
}

// keyOf is a column's position among the load's keys, -1 for none.
func (j *jsonRows) keyOf(name string) int {
	if k, ok := j.keys[name]; ok {
		return k
	}
	return -1
}

// check refuses a value that cannot be decoded or stored, and says whether
// it is present (not null).
func (j *jsonRows) check(i int, key, value []byte) (bool, error) {
	// The common values, a number or a short text of plain ASCII, are
	// stored as they are.
	switch {
	case len(value) == 9 && value[0] == valueNumber<<3|byte(protowire.Fixed64Type):
		return true, nil
	case len(value) >= 2 && value[0] == valueString<<3|byte(protowire.BytesType) && int(value[1]) == len(value)-2 &&
		len(value) <= 2+shortText && storableASCII(value[2:]):
		return true, nil
	}
	kind, raw, err := lastKind(value, true)
	switch {
	case err != nil:
	case kind == valueString:
		if k := bytes.IndexByte(raw, 0); k >= 0 {
			err = fmt.Errorf("text holds a NUL byte at byte %d, which PostgreSQL cannot store", k)
		}
	case kind == valueStruct, kind == valueList:
		_, err = j.value(value)
	}
	if err != nil {
		name := string(key)
		return false, invalidRow(j.offset+i, name, "row %d, column %s: %v", j.offset+i, loader.QuoteIdent(name), err)
	}
	return kind != 0 && kind != valueNull, nil
}

// shortText is the longest text check reads byte by byte; a longer one
// goes to utf8.Valid and bytes.IndexByte, which read it a word or a vector
// at a time.
const shortText = 32

// storableASCII reports whether b is ASCII without a NUL byte: valid UTF-8
// that PostgreSQL can store.
func storableASCII(b []byte) bool {
	for _, c := range b {
		if c-1 >= 0x7f { // a NUL wraps around to 0xff
			return false
		}
	}
	return true
}

// keyMissing is the first row, in load order, that lacks a key column's
// value, and the first such key of it.
type keyMissing struct {
	row, key int
	found    bool
}

func (m *keyMissing) note(row int, present uint64, keys int) {
	if m.found || keys == 0 || present == 1<<keys-1 {
		return
	}
	m.row, m.found = row, true
	for k := range keys {
		if present&(1<<k) == 0 {
			m.key = k
			return
		}
	}
}

// err is the refusal of a missing key, as the loader words it: a key
// column that no row carries, or the first row without its value.
func (m *keyMissing) err(j *jsonRows) error {
	if !m.found {
		return nil
	}
	for _, k := range j.keyNames {
		if _, ok := j.index[k]; !ok {
			return loader.AbsentKey(j.offset, k)
		}
	}
	return loader.MissingKey(m.row, j.keyNames[m.key])
}

// columnOf is the index of a known column: where its slot says it was
// last found, or else looked up in the index and remembered there. A slot may be stale
// (columns are sorted, or names share a slot), so a hit is checked.
func (j *jsonRows) columnOf(key []byte) (int, bool) {
	h := slotOf(key)
	if c := int(j.slots[h]); c < len(j.columns) && j.columns[c] == string(key) { // no allocation
		return c, true
	}
	c, ok := j.index[string(key)]
	if ok {
		j.slots[h] = uint16(c)
	}
	return c, ok
}

// slotOf is a column name's slot: its length and three of its bytes.
func slotOf(key []byte) int {
	if len(key) == 0 {
		return 0
	}
	n := uint(len(key))
	return int((n*7 + uint(key[0])*31 + uint(key[n/2])*131 + uint(key[n-1])*17) % 64)
}

// sortColumns puts a message's own columns in name order.
func (j *jsonRows) sortColumns() {
	if j.fixed {
		return
	}
	slices.Sort(j.columns)
	for k, c := range j.columns {
		j.index[c] = k
	}
}

// batch decodes every row's values into one batch with the scanned
// columns.
func (j *jsonRows) batch() (*loader.Batch, error) {
	j.cursor, j.done = j.msg, 0
	return j.take(j.rows)
}

// Next decodes the next rows, up to takeRows of them, into a batch: as a
// loader.Source, a unary request is decoded while PostgreSQL copies the
// rows before.
func (j *jsonRows) Next(context.Context) (*loader.Batch, error) {
	if j.cursor == nil && j.done == 0 {
		j.cursor = j.msg
	}
	if j.done == j.rows {
		return nil, io.EOF
	}
	if j.done == 0 {
		return j.take(firstTakeRows)
	}
	return j.take(takeRows)
}

// takeRows is how many rows a unary request hands the COPY at a time. The
// first slice is decoded before the load takes its connection, while
// PostgreSQL waits, so it is a small one.
const takeRows, firstTakeRows = 1024, 64

// take decodes up to n rows from the cursor.
func (j *jsonRows) take(n int) (*loader.Batch, error) {
	n = min(n, j.rows-j.done)
	w := len(j.columns)
	// A slice's fields and number texts reuse the memory of the slice
	// before, which its reader is done with (see loader.Source). Numbers
	// are written into one arena, which their texts share, rather than one
	// string each; a grown arena leaves the texts already made in the old
	// one, which they keep alive.
	if cap(j.spare) < n*w {
		j.spare = make([]loader.Field, n*w)
	}
	b := &loader.Batch{Columns: j.columns, Values: j.spare[:n*w], Offset: j.offset + j.done}
	for i := range b.Values {
		b.Values[i] = loader.Field{Null: true}
	}
	if j.arena == nil {
		j.arena = make([]byte, 0, n*8)
	}
	j.arena = j.arena[:0]
	for i := 0; i < n; {
		num, typ, val, rest, err := nextField(j.cursor)
		if err == nil && num == 0 {
			err = errors.New("the message ended before its counted rows")
		}
		if err != nil {
			return nil, err
		}
		j.cursor = rest
		if num != fieldRows || typ != protowire.BytesType {
			continue
		}
		if err := j.row(val, b.Offset+i, b.Values[i*w:(i+1)*w]); err != nil {
			return nil, err
		}
		i++
	}
	j.done += n
	return b, nil
}

// row decodes one row's values into out, in column order. scan has
// checked the row: its text is not validated again.
func (j *jsonRows) row(row []byte, n int, out []loader.Field) error {
	return eachEntry(row, false, func(key, value []byte) error {
		f, err := j.decode(value, false)
		if err != nil {
			name := string(key)
			return invalidRow(n, name, "row %d, column %s: %v", n, loader.QuoteIdent(name), err)
		}
		c, _ := j.columnOf(key)
		out[c] = f
		return nil
	})
}

// value is one google.protobuf.Value as PostgreSQL input text.
func (j *jsonRows) value(v []byte) (loader.Field, error) { return j.decode(v, true) }

// decode is value, validating text as UTF-8 when check is set.
func (j *jsonRows) decode(v []byte, check bool) (loader.Field, error) {
	kind, raw, err := lastKind(v, check)
	switch {
	case err != nil:
		return loader.Field{}, err
	case kind == valueNumber:
		start := len(j.arena)
		j.arena = pgtext.AppendFloat(j.arena, math.Float64frombits(fixed64(raw)))
		return loader.Field{Text: bytesText(j.arena[start:])}, nil
	case kind == valueString:
		return loader.Text(bytesText(raw))
	case kind == valueBool:
		return loader.Field{Text: strconv.FormatBool(varint(raw) != 0)}, nil
	case kind == valueStruct, kind == valueList:
		nested, err := nestedValue(kind, raw, 0)
		if err != nil {
			return loader.Field{}, err
		}
		s, err := pgtext.JSON(nested)
		if err != nil {
			return loader.Field{}, err
		}
		return loader.Text(s)
	}
	return loader.Field{Null: true}, nil // null_value, or no kind at all
}

// bytesText is a string field's bytes as a string that shares the
// message's memory, which is never written after it came off the wire.
func bytesText(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// eachEntry calls fn with the key and value bytes of every map entry of a
// Struct, in wire order, validating keys as UTF-8 when check is set.
func eachEntry(st []byte, check bool, fn func(key, value []byte) error) error {
	for len(st) > 0 {
		num, typ, val, rest, err := nextField(st)
		if err != nil || num == 0 {
			return err
		}
		st = rest
		if num != structFields || typ != protowire.BytesType {
			continue
		}
		key, value, err := mapEntry(val)
		if err != nil {
			return err
		}
		if check && !utf8.Valid(key) {
			return errInvalidUTF8
		}
		if err := fn(key, value); err != nil {
			return err
		}
	}
	return nil
}

// mapEntry is the key and value of one map entry; proto3 keeps the last of
// each.
func mapEntry(e []byte) (key, value []byte, err error) {
	// The common entry: a key, then a value, each with a one-byte length.
	if len(e) >= 4 && e[0] == entryKey<<3|byte(protowire.BytesType) && e[1] < 0x80 {
		if k := 2 + int(e[1]); k+2 <= len(e) && e[k] == entryValue<<3|byte(protowire.BytesType) && e[k+1] < 0x80 && k+2+int(e[k+1]) == len(e) {
			return e[2:k], e[k+2:], nil
		}
	}
	for len(e) > 0 {
		num, typ, val, rest, err := nextField(e)
		if err != nil || num == 0 {
			return key, value, err
		}
		e = rest
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case entryKey:
			// The last key counts, and callers check it; proto checks
			// every one it parses, so one given before it is checked here.
			if key != nil && !utf8.Valid(key) {
				return nil, nil, errInvalidUTF8
			}
			key = val
		case entryValue:
			if value, err = merged(value, val); err != nil {
				return nil, nil, err
			}
		}
	}
	return key, value, nil
}

// merged is a message field given again: proto merges the two, which is
// what parsing their bytes one after the other does, once each has parsed
// on its own (a field cut short at the end of one must not be completed by
// the next).
func merged(prev, next []byte) ([]byte, error) {
	if prev == nil {
		return next, nil
	}
	for _, b := range [][]byte{prev, next} {
		if err := eachField(b, func(protowire.Number, protowire.Type, []byte) error { return nil }); err != nil {
			return nil, err
		}
	}
	return append(append(make([]byte, 0, len(prev)+len(next)), prev...), next...), nil
}

var errInvalidUTF8 = errors.New("string field contains invalid UTF-8")

// lastKind returns which of a Value's oneof fields the wire sets last, and
// that field's value (a string's or message's bytes); 0 for none. With
// check, every string field is validated as UTF-8, as proto.Unmarshal does.
func lastKind(v []byte, check bool) (protowire.Number, []byte, error) {
	// The common Value: one number, or one short string.
	switch {
	case len(v) == 9 && v[0] == valueNumber<<3|byte(protowire.Fixed64Type):
		return valueNumber, v[1:], nil
	case len(v) >= 2 && v[0] == valueString<<3|byte(protowire.BytesType) && v[1] < 0x80 && int(v[1]) == len(v)-2:
		if check && !utf8.Valid(v[2:]) {
			return 0, nil, errInvalidUTF8
		}
		return valueString, v[2:], nil
	}
	var kind protowire.Number
	var raw []byte
	for len(v) > 0 {
		num, typ, val, rest, err := nextField(v)
		if err != nil {
			return 0, nil, err
		}
		if num == 0 {
			break
		}
		v = rest
		if typ != valueType(num) {
			continue
		}
		if check && num == valueString && !utf8.Valid(val) {
			return 0, nil, errInvalidUTF8
		}
		if num == kind && (num == valueStruct || num == valueList) {
			if val, err = merged(raw, val); err != nil { // the same message case again
				return 0, nil, err
			}
		}
		if check && num != kind && (kind == valueStruct || kind == valueList) {
			// proto parses an object or list that a later field replaces
			if _, err := nestedValue(kind, raw, 0); err != nil {
				return 0, nil, err
			}
		}
		kind, raw = num, val
	}
	return kind, raw, nil
}

// valueType is the wire type of each of google.protobuf.Value's fields,
// -1 for a field it does not have.
func valueType(num protowire.Number) protowire.Type {
	switch num {
	case valueNull, valueBool:
		return protowire.VarintType
	case valueNumber:
		return protowire.Fixed64Type
	case valueString, valueStruct, valueList:
		return protowire.BytesType
	}
	return -1
}

// nestedValue decodes an object or list Value into the Go value that
// encoding/json writes: map[string]any, []any, float64, string, bool, nil.
func nestedValue(kind protowire.Number, raw []byte, depth int) (any, error) {
	if depth > maxJSONNesting {
		return nil, fmt.Errorf("nested deeper than %d levels", maxJSONNesting)
	}
	switch kind {
	case valueStruct:
		m := map[string]any{}
		err := eachEntry(raw, true, func(key, value []byte) error {
			v, err := nestedOf(value, depth)
			m[string(key)] = v
			return err
		})
		return m, err
	case valueList:
		list := []any{}
		err := eachField(raw, func(num protowire.Number, typ protowire.Type, b []byte) error {
			if num != listValues || typ != protowire.BytesType {
				return nil
			}
			v, err := nestedOf(b, depth)
			list = append(list, v)
			return err
		})
		return list, err
	}
	return nil, nil
}

func nestedOf(value []byte, depth int) (any, error) {
	kind, raw, err := lastKind(value, true)
	if err != nil {
		return nil, err
	}
	switch kind {
	case valueNumber:
		f := math.Float64frombits(fixed64(raw))
		switch { // what structpb's AsInterface gives, as JSON has no such numbers
		case math.IsNaN(f):
			return "NaN", nil
		case math.IsInf(f, 1):
			return "Infinity", nil
		case math.IsInf(f, -1):
			return "-Infinity", nil
		}
		return f, nil
	case valueString:
		return string(raw), nil
	case valueBool:
		return varint(raw) != 0, nil
	case valueStruct, valueList:
		return nestedValue(kind, raw, depth+1)
	}
	return nil, nil
}

// eachField calls fn for every field of a message with its number, wire
// type and value (see nextField), refusing malformed input as
// proto.Unmarshal does.
func eachField(msg []byte, fn func(num protowire.Number, typ protowire.Type, val []byte) error) error {
	for len(msg) > 0 {
		num, typ, val, rest, err := nextField(msg)
		if err != nil || num == 0 { // 0: only groups were left
			return err
		}
		msg = rest
		if err := fn(num, typ, val); err != nil {
			return err
		}
	}
	return nil
}

// nextField splits the first field off msg: its number, wire type and
// value — a length-delimited field's bytes without their length, a
// varint's or a fixed field's own bytes. Groups, unknown fields here, are
// skipped. The common cases, a one-byte tag and a length of one or two
// bytes (a value or a row), take no call into protowire.
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

// The values of fields whose wire type nextField has checked.
func fixed64(b []byte) uint64 { v, _ := protowire.ConsumeFixed64(b); return v }
func varint(b []byte) uint64  { v, _ := protowire.ConsumeVarint(b); return v }

func invalidRow(row int, column, format string, args ...any) *loader.ValidationError {
	return &loader.ValidationError{Field: "rows[" + strconv.Itoa(row) + "]." + loader.Cap(column), Row: row, Reason: fmt.Sprintf(format, args...)}
}

func quoteNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += loader.QuoteIdent(n)
	}
	return out
}
