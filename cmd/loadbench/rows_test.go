package main

import (
	"math/big"
	"strconv"
	"testing"
)

func TestAppendScaled(t *testing.T) {
	for _, c := range []struct {
		v     int64
		scale int
		want  string
	}{
		{0, 6, "0.000000"}, {-1, 6, "-0.000001"}, {123456, 6, "0.123456"}, {-200000, 6, "-0.200000"},
		{5000, 4, "0.5000"}, {99999, 4, "9.9999"}, {1000000000000, 2, "10000000000.00"}, {7, 0, "7"},
	} {
		if got := scaledText(c.v, c.scale); got != c.want {
			t.Errorf("scaledText(%d, %d) = %q, want %q", c.v, c.scale, got, c.want)
		}
		if got := bigScaled(big.NewInt(c.v), c.scale); c.scale > 0 && got != c.want {
			t.Errorf("bigScaled(%d, %d) = %q, want %q", c.v, c.scale, got, c.want)
		}
	}
}

// The JSON form sends numerics as float64; each must print back as the
// same decimal, as the server writes floats in their shortest form.
func TestScaledFloatRoundTrips(t *testing.T) {
	for i := range 100_000 {
		w := genRow(i*7919, false)
		for _, c := range []struct {
			v     int64
			scale int
		}{{w.returnRate, 6}, {w.nav, 4}, {w.scale, 2}} {
			f := strconv.FormatFloat(scaledFloat(c.v, c.scale), 'f', -1, 64)
			want := trimZeros(scaledText(c.v, c.scale))
			if f != want {
				t.Fatalf("row %d: %d×10^-%d prints as %s, want %s", i, c.v, c.scale, f, want)
			}
		}
	}
}

func trimZeros(s string) string {
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	if s == "" || s == "-" {
		return "0"
	}
	return s
}

func TestKeysUnique(t *testing.T) {
	seen := map[string]int{}
	for i := range 3 * rowsPerDay {
		w := genRow(i, false)
		k := w.date() + "|" + w.planCode() + "|" + w.compCode()
		if j, dup := seen[k]; dup {
			t.Fatalf("rows %d and %d share the key %s", j, i, k)
		}
		seen[k] = i
		if s := genRow(i, true); s.date() != w.date() || s.planCode() != w.planCode() || s.compCode() != w.compCode() || s.source != staleSource {
			t.Fatalf("stale row %d differs in its key or is not stale", i)
		}
	}
}

func TestTagCounts(t *testing.T) {
	got := tagCounts("BEGIN\nSELECT 0\nCOPY 3000\nANALYZE\nDELETE 2999\nINSERT 0 3000\nCOMMIT\n")
	if got["COPY"] != 3000 || got["DELETE"] != 2999 || got["INSERT 0"] != 3000 {
		t.Fatalf("tagCounts = %v", got)
	}
}
