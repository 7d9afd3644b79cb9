package loader_test

import (
	"strings"
	"testing"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// Every statement of a load that inserts or updates target rows writes the
// stamp column, and no other statement does: the COPY straight into the
// target carries it as its last column, the staged modes set it to the
// load id in their INSERT and UPDATE (ON CONFLICT from the proposed row).
func TestRenderStamp(t *testing.T) {
	t.Parallel()
	const id = "0193a4f2-5c1e-7b3d-9a40-2f6c1d8e7a15"
	lit := "E'" + id + "'"
	for _, c := range []struct {
		mode   loader.Mode
		unique bool
		want   []string // the statements that must write the stamp, by prefix and what they hold
	}{
		{loader.ModeAppend, false, []string{`COPY "t" ("id", "v", "stamp")`}},
		{loader.ModeReplace, false, []string{`COPY "t" ("id", "v", "stamp")`}},
		{loader.ModeDeleteInsert, false, []string{`INSERT INTO "t" ("id", "v", "stamp") SELECT "id", "v", ` + lit}},
		{loader.ModeUpsert, false, []string{`UPDATE "t" AS target SET "v" = stage."v", "stamp" = ` + lit, `"stamp") SELECT stage."id", stage."v", ` + lit}},
		{loader.ModeUpsert, true, []string{`UPDATE "t" AS target SET "v" = stage."v", "stamp" = ` + lit, `DO UPDATE SET "v" = EXCLUDED."v", "stamp" = EXCLUDED."stamp"`}},
		{loader.ModeInsertMissing, true, []string{`"stamp") SELECT stage."id", stage."v", ` + lit}},
		{loader.ModeFillNullOnly, false, []string{`SET "v" = COALESCE(target."v", stage."v"), "stamp" = ` + lit}},
	} {
		cfg := loader.Config{Table: "t", Mode: c.mode, Keys: []string{"id"}, StampColumn: "stamp", LoadID: id}
		if c.mode == loader.ModeAppend || c.mode == loader.ModeReplace {
			cfg.Keys = nil
		}
		if err := cfg.Check(); err != nil {
			t.Fatal(err)
		}
		sts := loader.Statements(&cfg, loader.Shape{Columns: []string{"id", "v"}, Rows: 1, Unique: c.unique, Lock: cfg.Locks()})
		var writers []string
		for _, st := range sts {
			if strings.Contains(st.SQL, `"stamp"`) {
				writers = append(writers, st.SQL)
			}
		}
		all := strings.Join(writers, "\n")
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s unique=%v: no statement holds %s:\n%s", c.mode, c.unique, w, all)
			}
		}
		if n := len(writers); n != len(c.want) {
			t.Errorf("%s unique=%v: %d statements write the stamp, want %d:\n%s", c.mode, c.unique, n, len(c.want), all)
		}
		if cfg.StampsCopy() != (c.mode == loader.ModeAppend || c.mode == loader.ModeReplace) {
			t.Errorf("%s: StampsCopy is %v", c.mode, cfg.StampsCopy())
		}
	}
}

// The config's history fields are checked with it, naming the field.
func TestConfigCheckHistory(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		cfg   loader.Config
		field string
	}{
		"stamp name":       {loader.Config{Table: "t", Mode: loader.ModeAppend, StampColumn: strings.Repeat("s", 64)}, "config.stamp_column"},
		"negative limit":   {loader.Config{Table: "t", Mode: loader.ModeAppend, MaxDeletedRows: -1}, "config.max_deleted_rows"},
		"label key":        {loader.Config{Table: "t", Mode: loader.ModeAppend, Labels: loader.Labels{"a b": ""}}, `config.labels["a b"]`},
		"label value":      {loader.Config{Table: "t", Mode: loader.ModeAppend, Labels: loader.Labels{"a": strings.Repeat("v", 257)}}, `config.labels["a"]`},
		"sixteen are fine": {loader.Config{Table: "t", Mode: loader.ModeAppend, Labels: sixteen()}, ""},
		"seventeen":        {loader.Config{Table: "t", Mode: loader.ModeAppend, Labels: seventeen()}, "config.labels"},
	} {
		err := c.cfg.Check()
		ve, _ := err.(*loader.ValidationError)
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.field != "" && (ve == nil || ve.Field != c.field):
			t.Errorf("%s: %v, want a refusal of %s", name, err, c.field)
		}
	}
}

func sixteen() loader.Labels {
	l := loader.Labels{}
	for i := range 16 {
		l[strings.Repeat("k", i+1)] = strings.Repeat("v", 256)
	}
	return l
}

func seventeen() loader.Labels {
	l := sixteen()
	l["z"] = ""
	return l
}
