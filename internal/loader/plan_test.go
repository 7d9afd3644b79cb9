package loader_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/testrows"
)

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	name63 := strings.Repeat("x", 63)
	name64 := strings.Repeat("x", 64)
	han21 := strings.Repeat("计", 21) // 63 bytes
	han22 := strings.Repeat("计", 22) // 66 bytes
	tests := []struct {
		name      string
		cfg       loader.Config
		field     string // "" for no error
		wantMode  loader.Mode
		wantChunk int
		msg       string
	}{
		{name: "defaults", cfg: loader.Config{Table: "t", Keys: []string{"id"}}, wantMode: loader.ModeDeleteInsert, wantChunk: loader.DefaultChunkSize},
		{name: "default chunk is 1000", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend}, wantMode: loader.ModeAppend, wantChunk: 1000},
		{name: "chunk kept", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend, ChunkSize: 3}, wantMode: loader.ModeAppend, wantChunk: 3},
		{name: "replace needs no key", cfg: loader.Config{Table: "t", Mode: loader.ModeReplace}, wantMode: loader.ModeReplace, wantChunk: 1000},
		{name: "append with keys", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend, Keys: []string{"a", "b"}}, wantMode: loader.ModeAppend, wantChunk: 1000},
		{name: "schema", cfg: loader.Config{Schema: "s", Table: "t", Mode: loader.ModeAppend}, wantMode: loader.ModeAppend, wantChunk: 1000},
		{name: "negative chunk", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend, ChunkSize: -1}, field: "config.chunk_size", msg: "negative"},
		{name: "unknown mode", cfg: loader.Config{Table: "t", Mode: 99, Keys: []string{"id"}}, field: "config.mode", msg: "99"},
		{name: "negative mode", cfg: loader.Config{Table: "t", Mode: -1, Keys: []string{"id"}}, field: "config.mode"},
		{name: "unknown duplicates", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend, Duplicates: 7}, field: "config.duplicates"},
		{name: "default mode needs pk", cfg: loader.Config{Table: "t"}, field: "config.pk", msg: "delete_insert"},
		{name: "delete_insert needs pk", cfg: loader.Config{Table: "t", Mode: loader.ModeDeleteInsert}, field: "config.pk"},
		{name: "upsert needs pk", cfg: loader.Config{Table: "t", Mode: loader.ModeUpsert}, field: "config.pk"},
		{name: "insert_missing needs pk", cfg: loader.Config{Table: "t", Mode: loader.ModeInsertMissing}, field: "config.pk"},
		{name: "fill_null_only needs pk", cfg: loader.Config{Table: "t", Mode: loader.ModeFillNullOnly}, field: "config.pk"},
		{name: "duplicate pk", cfg: loader.Config{Table: "t", Keys: []string{"a", "b", "a"}}, field: "config.pk[2]", msg: `"a"`},
		{name: "empty pk name", cfg: loader.Config{Table: "t", Keys: []string{"a", ""}}, field: "config.pk[1]", msg: "empty"},
		{name: "64-byte pk name", cfg: loader.Config{Table: "t", Keys: []string{name64}}, field: "config.pk[0]", msg: "64 bytes"},
		{name: "NUL in pk name", cfg: loader.Config{Table: "t", Keys: []string{"a\x00b"}}, field: "config.pk[0]", msg: "NUL"},
		{name: "empty table", cfg: loader.Config{Mode: loader.ModeAppend}, field: "config.table", msg: "empty"},
		{name: "64-byte table", cfg: loader.Config{Table: name64, Mode: loader.ModeAppend}, field: "config.table", msg: "64 bytes"},
		{name: "63-byte table", cfg: loader.Config{Table: name63, Mode: loader.ModeAppend}, wantMode: loader.ModeAppend, wantChunk: 1000},
		{name: "63-byte UTF-8 table", cfg: loader.Config{Table: han21, Mode: loader.ModeAppend}, wantMode: loader.ModeAppend, wantChunk: 1000},
		{name: "66-byte UTF-8 table", cfg: loader.Config{Table: han22, Mode: loader.ModeAppend}, field: "config.table", msg: "66 bytes"},
		{name: "NUL in table", cfg: loader.Config{Table: "t\x00", Mode: loader.ModeAppend}, field: "config.table", msg: "NUL"},
		{name: "invalid UTF-8 table", cfg: loader.Config{Table: "t\xff", Mode: loader.ModeAppend}, field: "config.table", msg: "UTF-8"},
		{name: "invalid UTF-8 pk", cfg: loader.Config{Table: "t", Keys: []string{"\xc3"}}, field: "config.pk[0]", msg: "UTF-8"},
		{name: "64-byte schema", cfg: loader.Config{Schema: name64, Table: "t", Mode: loader.ModeAppend}, field: "config.schema"},
		{name: "NUL in schema", cfg: loader.Config{Schema: "\x00", Table: "t", Mode: loader.ModeAppend}, field: "config.schema"},
		{name: "odd but valid names", cfg: loader.Config{Schema: "a.b", Table: `t"; DROP TABLE x; --`, Keys: []string{`a"b`, "年金计划", "x y"}}, wantMode: loader.ModeDeleteInsert, wantChunk: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			err := cfg.Check()
			if tt.field != "" {
				testrows.Refused(t, err, tt.field, -1, tt.msg)
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if cfg.Mode != tt.wantMode || cfg.ChunkSize != tt.wantChunk {
				t.Errorf("after Check mode=%s chunk=%d, want mode=%s chunk=%d", cfg.Mode, cfg.ChunkSize, tt.wantMode, tt.wantChunk)
			}
		})
	}
}

func TestModeString(t *testing.T) {
	t.Parallel()
	for m, want := range map[loader.Mode]string{
		loader.ModeDeleteInsert: "delete_insert", loader.ModeAppend: "append", loader.ModeUpsert: "upsert",
		loader.ModeInsertMissing: "insert_missing", loader.ModeFillNullOnly: "fill_null_only", loader.ModeReplace: "replace",
		0: "Mode(0)", 42: "Mode(42)",
	} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
	}
}

func TestTarget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg  loader.Config
		want string
	}{
		{loader.Config{Table: "t"}, `"t"`},
		{loader.Config{Table: "a.b"}, `"a.b"`},
		{loader.Config{Schema: "s", Table: "t"}, `"s"."t"`},
		{loader.Config{Schema: `s"x`, Table: `t"; DROP TABLE x; --`}, `"s""x"."t""; DROP TABLE x; --"`},
		{loader.Config{Table: "年金计划"}, `"年金计划"`},
	} {
		if got := tt.cfg.Target(); got != tt.want {
			t.Errorf("Target() of %+v = %s, want %s", tt.cfg, got, tt.want)
		}
	}
}

// keyed is a delete_insert config on table t keyed by keys.
func keyed(keys ...string) loader.Config {
	return loader.Config{Table: "t", Mode: loader.ModeDeleteInsert, Keys: keys}
}

func refusing(c loader.Config) loader.Config {
	c.Duplicates = loader.DuplicatesRefuse
	return c
}

func TestNewPlanKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   loader.Config
		rows  []row
		field string
		row   int
		msg   []string
	}{
		{name: "key absent from a later row", cfg: keyed("id"),
			rows:  []row{{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"v": "c"}},
			field: "rows[2].id", row: 2, msg: []string{"row 2", `"id"`}},
		{name: "key null", cfg: keyed("id"),
			rows:  []row{{"id": 1}, {"id": nil}},
			field: "rows[1].id", row: 1, msg: []string{"row 1", `"id"`}},
		{name: "key absent from every row", cfg: keyed("id"),
			rows:  []row{{"v": "a"}, {"v": "b"}},
			field: "rows[0].id", row: 0, msg: []string{"row 0", `"id"`}},
		{name: "second key of two missing", cfg: keyed("a", "b"),
			rows:  []row{{"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": 3}},
			field: "rows[2].b", row: 2, msg: []string{"row 2", `"b"`}},
		{name: "UTF-8 key", cfg: keyed("计划代码"),
			rows:  []row{{"计划代码": "P1"}, {"名称": "x"}},
			field: "rows[1].计划代码", row: 1, msg: []string{"row 1", `"计划代码"`}},
		{name: "append with keys checks them too", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend, Keys: []string{"id"}},
			rows:  []row{{"id": 1}, {"id": nil}},
			field: "rows[1].id", row: 1},
		{name: "duplicate refused", cfg: refusing(keyed("id")),
			rows:  []row{{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1, "v": "c"}},
			field: "rows[2]", row: 2, msg: []string{"rows 0 and 2", `"id"=1`, "KEEP_LAST"}},
		{name: "duplicate of two keys refused", cfg: refusing(keyed("a", "b")),
			rows:  []row{{"a": "x", "b": 1}, {"a": "x", "b": 2}, {"a": "y", "b": 1}, {"a": "x", "b": 2}},
			field: "rows[3]", row: 3, msg: []string{"rows 1 and 3", `"a"=x`, `"b"=2`}},
		{name: "max rows", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend, MaxRows: 2},
			rows:  []row{{"v": 1}, {"v": 2}, {"v": 3}},
			field: "rows", row: -1, msg: []string{"3 rows", "2"}},
		{name: "config error first", cfg: loader.Config{Table: "", Mode: loader.ModeAppend},
			rows:  []row{{"v": 1}},
			field: "config.table", row: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loader.NewPlan(tt.cfg, testrows.Batch(t, tt.rows))
			testrows.Refused(t, err, tt.field, tt.row, tt.msg...)
		})
	}
}

// values returns the rows of b as maps of column to text ("<null>" for
// NULL), for comparing.
func values(b *loader.Batch) []map[string]string {
	var out []map[string]string
	for i := 0; i < b.Len(); i++ {
		m := map[string]string{}
		for j, f := range b.Row(i) {
			if f.Null {
				m[b.Columns[j]] = "<null>"
			} else {
				m[b.Columns[j]] = f.Text
			}
		}
		out = append(out, m)
	}
	return out
}

func TestNewPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		cfg                loader.Config
		rows               []row
		wantRows, wantKeys int
		wantDropped        int
		want               []map[string]string
	}{
		{name: "distinct keys", cfg: keyed("id"),
			rows:     []row{{"id": 1, "v": "a"}, {"id": 2}},
			wantRows: 2, wantKeys: 2,
			want: []map[string]string{{"id": "1", "v": "a"}, {"id": "2", "v": "<null>"}}},
		{name: "keep last", cfg: loader.Config{Table: "t", Keys: []string{"id"}, Duplicates: loader.DuplicatesKeepLast},
			rows:     []row{{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1, "v": "c"}, {"id": 1, "v": "d"}, {"id": 3, "v": "e"}},
			wantRows: 5, wantKeys: 3, wantDropped: 2, // the stage drops them
			want: []map[string]string{{"id": "1", "v": "a"}, {"id": "2", "v": "b"}, {"id": "1", "v": "c"}, {"id": "1", "v": "d"}, {"id": "3", "v": "e"}}},
		{name: "keep last, two keys", cfg: loader.Config{Table: "t", Keys: []string{"a", "b"}, Duplicates: loader.DuplicatesKeepLast},
			rows:     []row{{"a": "x", "b": "1", "v": "first"}, {"a": "x", "b": "2"}, {"a": "x", "b": "1", "v": "last"}},
			wantRows: 3, wantKeys: 2, wantDropped: 1,
			want: []map[string]string{{"a": "x", "b": "1", "v": "first"}, {"a": "x", "b": "2", "v": "<null>"}, {"a": "x", "b": "1", "v": "last"}}},
		// A refresh key: delete_insert keeps every row by default.
		{name: "refresh key keeps every row", cfg: keyed("month"),
			rows:     []row{{"month": "2024-11-01", "v": 1}, {"month": "2024-11-01", "v": 2}, {"month": "2024-12-01", "v": 3}},
			wantRows: 3, wantKeys: 2,
			want: []map[string]string{{"month": "2024-11-01", "v": "1"}, {"month": "2024-11-01", "v": "2"}, {"month": "2024-12-01", "v": "3"}}},
		// Joined key texts must not collide: ("x", "yz") is not ("xy", "z").
		{name: "two keys that concatenate alike", cfg: keyed("a", "b"),
			rows:     []row{{"a": "x", "b": "yz"}, {"a": "xy", "b": "z"}},
			wantRows: 2, wantKeys: 2,
			want: []map[string]string{{"a": "x", "b": "yz"}, {"a": "xy", "b": "z"}}},
		// Keys compare as text: "1" and "1.0" are two tuples to the planner.
		{name: "keys compare as text", cfg: keyed("id"),
			rows:     []row{{"id": "1"}, {"id": "1.0"}},
			wantRows: 2, wantKeys: 2,
			want: []map[string]string{{"id": "1"}, {"id": "1.0"}}},
		{name: "append keeps duplicates", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend},
			rows:     []row{{"id": 1}, {"id": 1}},
			wantRows: 2,
			want:     []map[string]string{{"id": "1"}, {"id": "1"}}},
		{name: "max rows reached exactly", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend, MaxRows: 2},
			rows:     []row{{"id": 1}, {"id": 2}},
			wantRows: 2,
			want:     []map[string]string{{"id": "1"}, {"id": "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := testrows.Plan(t, tt.cfg, tt.rows)
			if p.Rows != tt.wantRows || p.KeyTuples != tt.wantKeys || p.DuplicatesDropped != tt.wantDropped {
				t.Errorf("Rows=%d KeyTuples=%d DuplicatesDropped=%d, want %d %d %d",
					p.Rows, p.KeyTuples, p.DuplicatesDropped, tt.wantRows, tt.wantKeys, tt.wantDropped)
			}
			if got := values(p.Batch); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rows of the plan\n got %v\nwant %v", got, tt.want)
			}
			if p.Config.ChunkSize != loader.DefaultChunkSize || p.Config.Mode == 0 {
				t.Errorf("plan config has no defaults: %+v", p.Config)
			}
		})
	}
}

func TestNewPlanNoRows(t *testing.T) {
	t.Parallel()
	for _, b := range []*loader.Batch{nil, {}, {Columns: []string{"id"}}} {
		p, err := loader.NewPlan(keyed("id"), b)
		if err != nil {
			t.Fatalf("NewPlan(%v): %v", b, err)
		}
		if p.Rows != 0 || p.Batches() != 0 || p.Statements() != nil || p.Script() != "" {
			t.Errorf("empty plan: Rows=%d Batches=%d Statements=%v Script=%q", p.Rows, p.Batches(), p.Statements(), p.Script())
		}
	}
	// The config is still checked.
	_, err := loader.NewPlan(loader.Config{Table: "t"}, nil)
	testrows.Refused(t, err, "config.pk", -1)
}

func TestStructColumns(t *testing.T) {
	t.Parallel()
	cols, err := testrows.Columns(testrows.Structs(t, []row{
		{"b": 1, "a": 2}, {}, {"c": 3, "a": 4, "年金": 1, "Z": 0, "a.b": 1, `q"`: 1},
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Z", "a", "a.b", "b", "c", `q"`, "年金"}
	if !reflect.DeepEqual(cols, want) {
		t.Errorf("StructColumns = %q, want %q", cols, want)
	}
	if cols, err := testrows.Columns(nil); err != nil || len(cols) != 0 {
		t.Errorf("StructColumns(nil) = %q, %v", cols, err)
	}

	long := strings.Repeat("c", 64)
	for _, tt := range []struct{ name, field string }{
		{long, "rows[1]." + long},
		{"", "rows[1]."},
		{"a\x00b", "rows[1].a\x00b"},
	} {
		_, err := testrows.Columns([]*structpb.Struct{
			{Fields: map[string]*structpb.Value{"ok": structpb.NewNullValue()}},
			{Fields: map[string]*structpb.Value{tt.name: structpb.NewStringValue("v")}},
		})
		testrows.Refused(t, err, tt.field, 1)
	}
}

func TestFromStructs(t *testing.T) {
	t.Parallel()
	rows := testrows.Structs(t, []row{{"a": "x", "b": 1}, {"b": 2}, {"a": nil, "c": true}})
	b, err := testrows.FromStructs([]string{"a", "b", "c"}, rows, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"a": "x", "b": "1", "c": "<null>"},
		{"a": "<null>", "b": "2", "c": "<null>"},
		{"a": "<null>", "b": "<null>", "c": "true"},
	}
	if got := values(b); !reflect.DeepEqual(got, want) {
		t.Errorf("FromStructs\n got %v\nwant %v", got, want)
	}
	if b.Len() != 3 || b.ColumnIndex("b") != 1 || b.ColumnIndex("nope") != -1 {
		t.Errorf("Len=%d ColumnIndex(b)=%d ColumnIndex(nope)=%d", b.Len(), b.ColumnIndex("b"), b.ColumnIndex("nope"))
	}

	// A key outside the columns, named with the row's index in the load.
	_, err = testrows.FromStructs([]string{"a"}, testrows.Structs(t, []row{{"a": 1}, {"a": 2, "z": 1}}), 10)
	testrows.Refused(t, err, "rows[11].z", 11, "row 11", `"z"`)

	// Text holding a NUL byte is refused, not truncated.
	_, err = testrows.FromStructs([]string{"a"}, testrows.Structs(t, []row{{"a": "ok"}, {"a": "x\x00y"}}), 0)
	testrows.Refused(t, err, "rows[1].a", 1, "NUL")

	// A key missing from the offset batch is named with its load index.
	_, err = loader.NewPlan(keyed("a"), mustFromStructs(t, []string{"a", "b"}, testrows.Structs(t, []row{{"a": 1}, {"b": 1}}), 5))
	testrows.Refused(t, err, "rows[6].a", 6, "row 6")
}

func mustFromStructs(t *testing.T, cols []string, rows []*structpb.Struct, offset int) *loader.Batch {
	t.Helper()
	b, err := testrows.FromStructs(cols, rows, offset)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nRows returns n rows {id: i, v: "v<i>"}.
func nRows(n int) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = row{"id": i + 1, "v": "v" + strconv.Itoa(i+1)}
	}
	return out
}

func TestBatches(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ rows, chunk, want int }{
		{0, 3, 0}, {1, 0, 1}, {1000, 0, 1}, {1001, 0, 2}, {3, 3, 1}, {4, 3, 2}, {6, 3, 2}, {7, 3, 3}, {5, 1, 5},
	} {
		cfg := loader.Config{Table: "t", Mode: loader.ModeAppend, ChunkSize: tt.chunk}
		var rows []row
		if tt.rows > 0 {
			rows = nRows(tt.rows)
		}
		p := testrows.Plan(t, cfg, rows)
		if got := p.Batches(); got != tt.want {
			t.Errorf("Batches() for %d rows, chunk %d = %d, want %d", tt.rows, tt.chunk, got, tt.want)
		}
		copies := 0
		for _, s := range p.Statements() {
			if strings.HasPrefix(s.SQL, "COPY ") {
				copies++
			}
		}
		if copies != tt.want {
			t.Errorf("%d rows, chunk %d: %d COPY statements, want %d", tt.rows, tt.chunk, copies, tt.want)
		}
	}
}

// stmt is what a test expects of one statement: its SQL starts with
// prefix and holds every string of has, and it carries rows rows.
type stmt struct {
	prefix string
	has    []string
	rows   int64
}

func checkStatements(t *testing.T, got []loader.Statement, want []stmt) {
	t.Helper()
	if len(got) != len(want) {
		var sqls []string
		for _, s := range got {
			sqls = append(sqls, s.SQL)
		}
		t.Fatalf("%d statements, want %d:\n%s", len(got), len(want), strings.Join(sqls, "\n"))
	}
	for i, w := range want {
		g := got[i]
		if !strings.HasPrefix(g.SQL, w.prefix) {
			t.Errorf("statement %d = %s\nwant it to start with %s", i, g.SQL, w.prefix)
		}
		for _, h := range w.has {
			if !strings.Contains(g.SQL, h) {
				t.Errorf("statement %d = %s\nwant it to contain %s", i, g.SQL, h)
			}
		}
		if g.Rows != w.rows {
			t.Errorf("statement %d (%s) carries %d rows, want %d", i, g.SQL, g.Rows, w.rows)
		}
	}
}

func TestStatements(t *testing.T) {
	t.Parallel()
	copyT := stmt{prefix: `COPY "t" ("id", "v") FROM STDIN`}
	copyS := stmt{prefix: `COPY pg_temp."loadsvc_stage" ("id", "v"`, has: []string{"FROM STDIN"}}
	rows := func(s stmt, n int64) stmt { s.rows = n; return s }
	tests := []struct {
		name string
		cfg  loader.Config
		rows int
		want []stmt
	}{
		{name: "append", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend, ChunkSize: 3}, rows: 7,
			want: []stmt{rows(copyT, 3), rows(copyT, 3), rows(copyT, 1)}},
		{name: "append, one chunk", cfg: loader.Config{Table: "t", Mode: loader.ModeAppend}, rows: 7,
			want: []stmt{rows(copyT, 7)}},
		{name: "delete_insert", cfg: loader.Config{Table: "t", Keys: []string{"id"}, ChunkSize: 3}, rows: 7,
			want: []stmt{
				{prefix: `SELECT pg_advisory_xact_lock(1818522486, E'"t"'::regclass::oid::int4)`},
				{prefix: `CREATE TEMP TABLE "loadsvc_stage" ON COMMIT DROP AS SELECT "id", "v"`, has: []string{` FROM "t" WITH NO DATA`}},
				rows(copyS, 3), rows(copyS, 3), rows(copyS, 1),
				{prefix: `ANALYZE pg_temp."loadsvc_stage"`},
				{prefix: `DELETE FROM "t" AS target USING `, has: []string{`pg_temp."loadsvc_stage"`, `WHERE target."id" = stage."id"`}},
				{prefix: `INSERT INTO "t" ("id", "v") SELECT "id", "v" FROM pg_temp."loadsvc_stage"`, rows: 7},
			}},
		{name: "delete_insert, schema and two keys", cfg: loader.Config{Schema: "s", Table: "t", Keys: []string{"v", "id"}}, rows: 2,
			want: []stmt{
				{prefix: `SELECT pg_advisory_xact_lock(1818522486, E'"s"."t"'::regclass::oid::int4)`},
				{prefix: `CREATE TEMP TABLE "loadsvc_stage" ON COMMIT DROP AS SELECT "id", "v"`, has: []string{` FROM "s"."t" WITH NO DATA`}},
				rows(copyS, 2),
				{prefix: `ANALYZE pg_temp."loadsvc_stage"`},
				{prefix: `DELETE FROM "s"."t" AS target USING `, has: []string{`WHERE target."v" = stage."v" AND target."id" = stage."id"`}},
				{prefix: `INSERT INTO "s"."t" ("id", "v") SELECT "id", "v" FROM pg_temp."loadsvc_stage"`, rows: 2},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := testrows.Plan(t, tt.cfg, nRows(tt.rows))
			checkStatements(t, p.Statements(), tt.want)
		})
	}
}

// Odd names stay one identifier, and the lock's literal one literal.
func TestStatementsQuoteOddNames(t *testing.T) {
	t.Parallel()
	p := testrows.Plan(t, loader.Config{Table: `it's "odd"`, Keys: []string{`k"`}}, []row{{`k"`: 1}})
	checkStatements(t, p.Statements(), []stmt{
		{prefix: `SELECT pg_advisory_xact_lock(1818522486, E'"it''s ""odd"""'::regclass::oid::int4)`},
		{prefix: `CREATE TEMP TABLE "loadsvc_stage" ON COMMIT DROP AS SELECT "k"""`, has: []string{` FROM "it's ""odd""" WITH NO DATA`}},
		{prefix: `COPY pg_temp."loadsvc_stage" ("k"""`, rows: 1},
		{prefix: `ANALYZE pg_temp."loadsvc_stage"`},
		{prefix: `DELETE FROM "it's ""odd""" AS target USING `, has: []string{`WHERE target."k""" = stage."k"""`}},
		{prefix: `INSERT INTO "it's ""odd""" ("k""") SELECT "k""" FROM pg_temp."loadsvc_stage"`, rows: 1},
	})
}

func TestScript(t *testing.T) {
	t.Parallel()
	rows := []row{
		{"id": 1, "v": "tab\there"},
		{"id": 2, "v": "nl\nand\rcr"},
		{"id": 3, "v": `back\slash`},
		{"id": 4, "v": `\.`},
		{"id": 5, "v": nil},
		{"id": 6, "v": `\N`},
		{"id": 7, "v": "年金 😀"},
	}
	p := testrows.Plan(t, loader.Config{Table: "t", Keys: []string{"id"}, ChunkSize: 3}, rows)
	s := p.Script()
	lines := strings.Split(s, "\n")
	if lines[0] != `\encoding UTF8` || !strings.HasPrefix(lines[1], "-- loadsvc plan: delete_insert into \"t\", 7 rows") {
		t.Errorf("script starts with %q, want the encoding, then a comment", lines[:2])
	}
	if !strings.Contains(s, "\nBEGIN;\n") || !strings.HasSuffix(s, "\nCOMMIT;\n") {
		t.Errorf("script lacks its own BEGIN/COMMIT:\n%s", s)
	}
	if strings.Index(s, "BEGIN;") > strings.Index(s, "pg_advisory_xact_lock") {
		t.Errorf("BEGIN after the first statement:\n%s", s)
	}
	// Every statement of the plan appears in order, each ended by ";\n".
	at := 0
	for _, st := range p.Statements() {
		i := strings.Index(s[at:], st.SQL+";\n")
		if i < 0 {
			t.Fatalf("statement %q missing or out of order in the script:\n%s", st.SQL, s)
		}
		at += i + len(st.SQL)
	}
	// The COPY data of each chunk follows its COPY, ended by \. alone.
	wantData := "COPY pg_temp.\"loadsvc_stage\" (\"id\", \"v\") FROM STDIN;\n" +
		"1\ttab\\there\n2\tnl\\nand\\rcr\n3\tback\\\\slash\n\\.\n" +
		"COPY pg_temp.\"loadsvc_stage\" (\"id\", \"v\") FROM STDIN;\n" +
		"4\t\\\\.\n5\t\\N\n6\t\\\\N\n\\.\n" +
		"COPY pg_temp.\"loadsvc_stage\" (\"id\", \"v\") FROM STDIN;\n" +
		"7\t年金 😀\n\\.\n"
	if !strings.Contains(s, wantData) {
		t.Errorf("script COPY data wrong; want it to contain\n%s\ngot\n%s", wantData, s)
	}
	if n := strings.Count(s, "\n\\.\n"); n != p.Batches() {
		t.Errorf("%d \\. terminators, want %d", n, p.Batches())
	}
}
