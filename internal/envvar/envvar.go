// Package envvar reads typed environment variables, the defaults of the
// commands' flags.
package envvar

import (
	"fmt"
	"strconv"
	"time"
)

// Reader reads variables through Getenv; a value that does not parse
// yields its zero, and the first such failure is kept in Err, naming the
// variable, for the caller to report once all flags are bound.
type Reader struct {
	Getenv func(string) string
	Err    error
}

// Str is the variable's value, or def when it is unset or empty.
func (r *Reader) Str(key, def string) string {
	if v := r.Getenv(key); v != "" {
		return v
	}
	return def
}

// Int is the variable as an integer, or def when it is unset.
func (r *Reader) Int(key string, def int) int {
	return parse(r, key, def, strconv.Atoi, "an integer")
}

// Bool is the variable as a boolean (1, t, true, 0, f, false, …), or def
// when it is unset.
func (r *Reader) Bool(key string, def bool) bool {
	return parse(r, key, def, strconv.ParseBool, "a boolean: use true or false")
}

// Dur is the variable as a duration, or def when it is unset.
func (r *Reader) Dur(key string, def time.Duration) time.Duration {
	return parse(r, key, def, time.ParseDuration, "a duration such as 30s or 5m")
}

func parse[T any](r *Reader, key string, def T, conv func(string) (T, error), what string) T {
	v := r.Getenv(key)
	if v == "" {
		return def
	}
	x, err := conv(v)
	if err != nil && r.Err == nil {
		r.Err = fmt.Errorf("%s=%q is not %s", key, v, what)
	}
	return x
}
