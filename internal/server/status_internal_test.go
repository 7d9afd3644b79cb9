package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/loadsvc/loadsvc/internal/loader"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// A row error's message of any length, quoted values or not, reaches the
// RowErrors detail at most maxRowErrorMessage bytes long and valid UTF-8.
func TestRowErrorsDetailCapsMessages(t *testing.T) {
	long := "raised by a trigger: " + strings.Repeat("é", 10_000)
	rows := &loader.RowErrors{Errors: []loader.RowError{{Row: 0, Message: long}, {Row: 1, Message: "short"}}}
	d := rowErrorsDetail(rows, func(s string) string { return s }).(*loadsvcv1.RowErrors)
	m := d.Errors[0].Message
	if len(m) > maxRowErrorMessage || !utf8.ValidString(m) || !strings.HasPrefix(m, "raised by a trigger: é") || !strings.HasSuffix(m, "…(cut)") {
		t.Errorf("long message: %d bytes, valid %v, %q…%q", len(m), utf8.ValidString(m), m[:min(30, len(m))], m[max(0, len(m)-10):])
	}
	if d.Errors[1].Message != "short" {
		t.Errorf("short message: %q; want it whole", d.Errors[1].Message)
	}
}
