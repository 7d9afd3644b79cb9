package loader

import (
	"testing"
	"unicode/utf8"
)

func TestAppendCopyText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   Field
		want string
	}{
		{Field{Null: true}, `\N`},
		{Field{Null: true, Text: "ignored"}, `\N`},
		{Field{}, ``},
		{Field{Text: `\N`}, `\\N`},
		{Field{Text: `\.`}, `\\.`},
		{Field{Text: "a\tb\nc\rd\\e"}, `a\tb\nc\rd\\e`},
		{Field{Text: "\\\\"}, `\\\\`},
		{Field{Text: "年金\v\f\x01 😀"}, "年金\v\f\x01 😀"},
	} {
		if got := string(appendCopyText([]byte("x"), tt.in)); got != "x"+tt.want {
			t.Errorf("appendCopyText(%+v) = %q, want %q", tt.in, got, "x"+tt.want)
		}
	}
	row := []Field{{Text: "a"}, {Null: true}, {Text: "c\td"}}
	if got := string(AppendCopyRow(nil, row, []int{2, 0, 1})); got != "c\\td\ta\t\\N\n" {
		t.Errorf("AppendCopyRow = %q", got)
	}
	if got := string(AppendCopyRow(nil, row, []int{1})); got != "\\N\n" {
		t.Errorf("AppendCopyRow of one column = %q", got)
	}
}

// CopyFields and CopyValue read back what AppendCopyRow wrote, the
// probe's values and RowError.Value.
func TestCopyValueReadsBack(t *testing.T) {
	t.Parallel()
	row := []Field{{Text: "a\tb\nc\rd\\e"}, {Null: true}, {Text: `\N`}, {}, {Text: "年金\v 😀"}}
	line := AppendCopyRow(nil, row, []int{0, 1, 2, 3, 4})
	fields := CopyFields(line[:len(line)-1])
	if len(fields) != len(row) {
		t.Fatalf("%d fields, want %d", len(fields), len(row))
	}
	for i, f := range fields {
		text, null := CopyValue(f)
		if text != row[i].Text || null != row[i].Null {
			t.Errorf("field %d reads back as %q (null %v), want %+v", i, text, null, row[i])
		}
	}
	if got := CapValue(string(make([]byte, 64))); len(got) != 64 {
		t.Errorf("a 64-byte value capped to %d bytes", len(got))
	}
	long := ""
	for len(long) < 100 {
		long += "码"
	}
	if got := CapValue(long); len(got) > MaxQuoted || got[len(got)-len("…"):] != "…" || !utf8.ValidString(got) {
		t.Errorf("CapValue = %q (%d bytes), want at most %d ending in …", got, len(got), MaxQuoted)
	}
}
