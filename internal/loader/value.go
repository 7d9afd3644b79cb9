package loader

import (
	"fmt"
	"strconv"
	"strings"
)

// Text is a text value, refused when it holds a NUL byte.
func Text(s string) (Field, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return Field{}, fmt.Errorf("text holds a NUL byte at byte %d, which PostgreSQL cannot store", i)
	}
	return Field{Text: s}, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
