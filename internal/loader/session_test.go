package loader_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loadsvc/loadsvc/internal/loader"
)

// An offset decides a batch: stored already, to be written, or refused.
func TestOffsetCheck(t *testing.T) {
	for _, tc := range []struct {
		offset, rows, next int64
		stored             bool
		kind               loader.SessionKind // 0: no error
	}{
		{offset: 0, rows: 10, next: 0},
		{offset: 10, rows: 5, next: 10},
		{offset: 0, rows: 10, next: 10, stored: true},
		{offset: 5, rows: 5, next: 10, stored: true},
		{offset: 5, rows: 10, next: 10, kind: loader.SessionStraddle},
		{offset: 11, rows: 1, next: 10, kind: loader.SessionGap},
	} {
		a := &loader.Append{SessionID: "s", Writer: "w", Offset: tc.offset}
		stored, err := loader.OffsetCheck(a, tc.rows, tc.next)
		var se *loader.SessionError
		switch {
		case tc.kind == 0 && (err != nil || stored != tc.stored):
			t.Errorf("%+v: stored %v, %v", tc, stored, err)
		case tc.kind != 0 && (!errors.As(err, &se) || se.Kind != tc.kind || se.Next != tc.next):
			t.Errorf("%+v: %v, want kind %d", tc, err, tc.kind)
		}
	}
	if _, err := loader.OffsetCheck(&loader.Append{Offset: -1}, 1, 0); err == nil {
		t.Error("a negative offset passed")
	}
}

func TestSessionTTL(t *testing.T) {
	day, week := 24*time.Hour, 7*24*time.Hour
	if ttl, err := loader.SessionTTL(0, day, week); err != nil || ttl != day {
		t.Errorf("no ttl: %v %v", ttl, err)
	}
	for _, bad := range []time.Duration{-time.Second, time.Millisecond, week + 1} {
		if _, err := loader.SessionTTL(bad, day, week); err == nil || !strings.Contains(err.Error(), "LOADSVC_SESSION_MAX_TTL") {
			t.Errorf("ttl %v: %v", bad, err)
		}
	}
	if err := loader.CheckSessionID("0123456789abcdef0123456789ABCDEF"); err != nil {
		t.Error(err)
	}
	id, err := loader.NewSessionID()
	if err != nil || loader.CheckSessionID(id) != nil || len(id) != 32 {
		t.Errorf("NewSessionID: %q %v", id, err)
	}
	if err := loader.CheckSessionID("x"); err == nil {
		t.Error("a malformed id passed")
	}
}

// Over a session's stage, every mode reads the rows from it: no TEMP
// stage, no COPY; append and replace insert from it.
func TestRenderOverAStage(t *testing.T) {
	const stage = `"loadsvc_stage"."s_1"`
	for _, mode := range []loader.Mode{loader.ModeDeleteInsert, loader.ModeAppend, loader.ModeReplace, loader.ModeUpsert, loader.ModeInsertMissing, loader.ModeFillNullOnly} {
		cfg := loader.Config{Table: "t", Mode: mode}
		if mode != loader.ModeAppend && mode != loader.ModeReplace {
			cfg.Keys = []string{"id"}
		}
		if err := cfg.Check(); err != nil {
			t.Fatal(err)
		}
		sc := loader.Render(&cfg, loader.Shape{Columns: []string{"id", "v"}, Lock: cfg.Locks(), Ordinal: cfg.Compares(), Stage: stage})
		var all []string
		for _, st := range append(sc.Pre, sc.Post...) {
			all = append(all, st.SQL)
		}
		sql := strings.Join(all, ";\n")
		if strings.Contains(sql, "TEMP") || strings.Contains(sql, "COPY") || !strings.Contains(sql, "FROM "+stage) {
			t.Errorf("%s over a stage:\n%s", mode, sql)
		}
		if (mode == loader.ModeAppend || mode == loader.ModeReplace) && !strings.Contains(sql, `INSERT INTO "t" ("id", "v") SELECT "id", "v" FROM `+stage) {
			t.Errorf("%s inserts no rows from the stage:\n%s", mode, sql)
		}
	}
}
