package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// rows builds JSON rows from Go maps.
func rows(t *testing.T, maps ...map[string]any) []*structpb.Struct {
	t.Helper()
	out := make([]*structpb.Struct, len(maps))
	for i, m := range maps {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

// seqRows builds n rows {id: first+i, v: "v<i>"}.
func seqRows(t *testing.T, first, n int) []*structpb.Struct {
	t.Helper()
	maps := make([]map[string]any, n)
	for i := range maps {
		maps[i] = map[string]any{"id": first + i, "v": "v" + itoa(first+i)}
	}
	return rows(t, maps...)
}

func itoa(i int) string { return strconv.Itoa(i) }

// wantCode fails unless err is a status with code and a message starting
// with prefix.
func wantCode(t *testing.T, err error, code codes.Code, prefix string) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a status", err)
	}
	if st.Code() != code || !strings.HasPrefix(st.Message(), prefix) {
		t.Fatalf("got %s %q, want %s with message starting %q", st.Code(), st.Message(), code, prefix)
	}
	return st
}

func errorInfo(t *testing.T, st *status.Status) *errdetails.ErrorInfo {
	t.Helper()
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	t.Fatalf("status %s %q has no ErrorInfo", st.Code(), st.Message())
	return nil
}

func badRequestField(t *testing.T, st *status.Status) string {
	t.Helper()
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) > 0 {
			return br.FieldViolations[0].Field
		}
	}
	t.Fatalf("status %s %q has no BadRequest", st.Code(), st.Message())
	return ""
}

// clean asserts the database holds no open transaction and no TEMP table in
// any session and that the service's pool has nothing acquired, waiting a
// few seconds for a cancelled backend to finish. pgxpool counts a broken
// connection as acquired until its destructor gave up (up to 15 s).
func (b *bundle) clean(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		busy := b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND (state <> 'idle' OR xact_start IS NOT NULL)`)
		temp := b.count(t, `SELECT count(*) FROM pg_class WHERE relpersistence = 't'`)
		acquired := b.pool.Stat().AcquiredConns()
		if busy == 0 && temp == 0 && acquired == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database not clean: %d busy sessions, %d temp tables, %d acquired conns", busy, temp, acquired)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
