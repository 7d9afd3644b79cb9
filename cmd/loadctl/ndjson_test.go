package main

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/loadsvc/loadsvc/client"
)

// jsonAll reads every row of in.
func jsonAll(t *testing.T, in string, array bool) ([]client.Row, error) {
	t.Helper()
	rows, err := newJSONRows(strings.NewReader(in), "in", array)
	if err != nil {
		return nil, err
	}
	var out []client.Row
	for {
		r, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

func TestJSONRowsValues(t *testing.T) {
	t.Parallel()
	obj := `{"big": 9007199254740993, "f": 1.50, "e": -1e400, "s": "x\u00e9\n", "t": true, "no": false, "n": null,
		"o": {"k": [1, {"z": 12345678901234567890}]}, "a": [ "x" ]}`
	want := client.Row{
		"big": json.Number("9007199254740993"), "f": json.Number("1.50"), "e": json.Number("-1e400"),
		"s": "xé\n", "t": true, "no": false, "n": nil,
		"o": json.RawMessage(`{"k": [1, {"z": 12345678901234567890}]}`), "a": json.RawMessage(`[ "x" ]`),
	}
	for _, tc := range []struct {
		name  string
		in    string
		array bool
	}{
		{"ndjson", obj + "\n" + obj + "\n", false},
		{"ndjson without newlines", obj + obj, false},
		{"array", "[" + obj + ",\n" + obj + "]\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jsonAll(t, tc.in, tc.array)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || !reflect.DeepEqual(got[0], want) || !reflect.DeepEqual(got[1], want) {
				t.Fatalf("got %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestJSONRowsEmpty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		array bool
	}{{"", false}, {"\n \n", false}, {"[]", true}, {" [ ] \n", true}} {
		got, err := jsonAll(t, tc.in, tc.array)
		if err != nil || len(got) != 0 {
			t.Errorf("%q: got %v, %v", tc.in, got, err)
		}
	}
}

func TestJSONRowsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		array bool
		want  string
	}{
		{"", true, "in: empty input: a JSON file must hold one array of objects"},
		{`{"a": 1}`, true, "in: a JSON file must hold one array of objects, not an object"},
		{`[{"a": 1}, 2]`, true, "in: row 2: want a JSON object, got a number"},
		{`[{"a": 1}, null]`, true, "in: row 2: want a JSON object, got null"},
		{`[{"a": 1}`, true, "in: after row 1: the input ends inside the array"},
		{`[{"a": 1}] [`, true, `in: "[" after the array; a JSON file must hold one array`},
		{`[{"a": 1}] x`, true, "in: after the array: invalid character 'x' looking for beginning of value"},
		{`{"a": 1}` + "\n" + `"s"`, false, "in: row 2: want a JSON object, got a string"},
		{`{"a": 1}` + "\n" + `{"a": `, false, "in: row 2: unexpected EOF"},
		{`{"a": 1} {"a" 2}`, false, "in: row 2: invalid character '2' after object key"},
	} {
		_, err := jsonAll(t, tc.in, tc.array)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.want)
		}
	}
}
