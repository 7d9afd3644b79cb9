package loader

import (
	"bytes"
	"strconv"
)

// appendCopyText appends one COPY text-format field: \N for NULL, otherwise
// the text with backslash, tab, newline and carriage return escaped, every
// other byte verbatim (the session's client_encoding is UTF8).
func appendCopyText(dst []byte, f Field) []byte {
	if f.Null {
		return append(dst, '\\', 'N')
	}
	s := f.Text
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// AppendCopyRow appends one row as a COPY text line holding the fields at
// positions cols.
func AppendCopyRow(dst []byte, row []Field, cols []int) []byte {
	for i, c := range cols {
		if i > 0 {
			dst = append(dst, '\t')
		}
		dst = appendCopyText(dst, row[c])
	}
	return append(dst, '\n')
}

// AppendOrdinal adds a row's index in the load as the last field of the COPY
// line that ends buf (the stage's ordinal column, see Shape.Ordinal).
func AppendOrdinal(buf []byte, i int) []byte {
	buf[len(buf)-1] = '\t'
	buf = strconv.AppendInt(buf, int64(i), 10)
	return append(buf, '\n')
}

// CopyFields splits one COPY text line, without its newline, into its
// fields, still escaped: a tab inside a value is escaped, so every raw tab
// separates two fields.
func CopyFields(line []byte) [][]byte {
	return bytes.Split(line, []byte{'\t'})
}

// CopyValue reads back one COPY text field as appendCopyText wrote it:
// null for \N, else the text with its escapes undone.
func CopyValue(f []byte) (text string, null bool) {
	if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
		return "", true
	}
	if bytes.IndexByte(f, '\\') < 0 {
		return string(f), false
	}
	out := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c == '\\' && i+1 < len(f) {
			i++
			switch f[i] {
			case 't':
				c = '\t'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			default:
				c = f[i]
			}
		}
		out = append(out, c)
	}
	return string(out), false
}
