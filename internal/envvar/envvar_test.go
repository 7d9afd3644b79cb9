package envvar

import (
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	t.Parallel()
	env := map[string]string{"N": "7", "B": "true", "D": "90s", "S": "x", "BAD_INT": "seven", "BAD_DUR": "soon"}
	r := &Reader{Getenv: func(k string) string { return env[k] }}
	if got := r.Int("N", 1); got != 7 {
		t.Errorf("Int(N) = %d, want 7", got)
	}
	if got := r.Bool("B", false); !got {
		t.Errorf("Bool(B) = false, want true")
	}
	if got := r.Dur("D", 0); got != 90*time.Second {
		t.Errorf("Dur(D) = %v, want 90s", got)
	}
	if got, def := r.Str("S", "d"), r.Str("UNSET", "d"); got != "x" || def != "d" {
		t.Errorf("Str = %q, %q; want x, d", got, def)
	}
	if got := r.Int("UNSET", 3); got != 3 || r.Err != nil {
		t.Fatalf("Int(UNSET) = %d, %v; want the default and no error", got, r.Err)
	}
	r.Int("BAD_INT", 1)
	r.Dur("BAD_DUR", time.Second)
	if r.Err == nil || !strings.Contains(r.Err.Error(), `BAD_INT="seven" is not an integer`) {
		t.Fatalf("Err = %v, want the first bad variable named", r.Err)
	}
}
