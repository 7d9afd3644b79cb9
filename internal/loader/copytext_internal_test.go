package loader

import "testing"

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
