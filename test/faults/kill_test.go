package faults_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// A load's backend terminated mid-statement (pg_terminate_backend from
// another session): the load answers ABORTED, nothing of it is written (the
// delete of a delete_insert is rolled back too), the service stays up, and
// the same request retried succeeds.
func TestBackendKilledMidLoad(t *testing.T) {
	t.Parallel()
	const seed = 10 // ids 0..9 hold "old"
	for _, tc := range []struct {
		name    string
		mode    loadsvcv1.Mode
		stream  bool
		sending bool   // the stream's client goes on sending after the kill
		trigger bool   // a slow BEFORE INSERT trigger on the target
		during  string // the statement the kill lands in
	}{
		// Rows trickle in: the COPY into the stage waits on the client.
		// The client is idle when the kill lands; the server must answer
		// without waiting for it.
		{name: "stream delete_insert in COPY, client idle", mode: loadsvcv1.Mode_MODE_DELETE_INSERT, stream: true, during: "COPY%"},
		// The client goes on sending after the kill.
		{name: "stream delete_insert in COPY, client sending", mode: loadsvcv1.Mode_MODE_DELETE_INSERT, stream: true, sending: true, during: "COPY%"},
		// The target's trigger sleeps per row: the COPY into it is slow.
		{name: "unary append in COPY", mode: loadsvcv1.Mode_MODE_APPEND, trigger: true, during: "COPY%"},
		// The insert from the stage is slow; the delete has already run.
		{name: "unary delete_insert in INSERT", mode: loadsvcv1.Mode_MODE_DELETE_INSERT, trigger: true, during: "INSERT%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.execSQL(t, `CREATE TABLE t (id int, v text)`)
			e.execSQL(t, `INSERT INTO t SELECT g, 'old' FROM generate_series(0, $1 - 1) g`, seed)
			if tc.trigger {
				e.execSQL(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION faults_slow('0.01')`)
			}
			before := e.content(t, "t")
			cfg := &loadsvcv1.LoadConfig{Table: "t", Mode: tc.mode, Pk: []string{"id"}}
			first := seed / 2 // keyed loads replace ids 5..9
			if tc.mode == loadsvcv1.Mode_MODE_APPEND {
				cfg.Pk = nil
				first = seed // append adds beside them
			}

			var ids []int // the rows the failed load carried, retried below
			var err error
			if tc.stream {
				s := e.slowStream(context.Background(), t, cfg, first, "new", 20*time.Millisecond)
				pid := e.waitBackend(t, tc.during)
				s.waitSent(t, 5)
				if !tc.sending {
					s.pause(t)
				}
				e.terminate(t, pid)
				if !tc.sending {
					// The server answers while the client sends nothing.
					if c := e.obs.code(t, "t", 1); c != codes.Aborted {
						t.Errorf("the server reported %s", c)
					}
					s.stop()
				}
				_, err = s.result(t)
				ids = s.ids
			} else {
				ids = seq(first, 300) // 3s of trigger
				a := e.startLoad(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, ids, "new")})
				e.terminate(t, e.waitBackend(t, tc.during))
				_, err = a.result(t)
			}
			wantCode(t, err, codes.Aborted, lostPrefix)
			if c := e.obs.code(t, "t", 1); c != codes.Aborted {
				t.Errorf("the server reported %s", c)
			}
			e.wantContent(t, "t", before)
			e.checkClean(t)

			// The worker's retry of the same rows succeeds.
			if tc.trigger {
				e.execSQL(t, `DROP TRIGGER slow ON t`)
			}
			resp, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, ids, "new")})
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if resp.Inserted != int64(len(ids)) {
				t.Errorf("retry: %v", resp)
			}
			want := map[int]string{}
			for id := range seed {
				want[id] = "old"
			}
			for _, id := range ids {
				want[id] = "new"
			}
			e.wantContent(t, "t", contentOf(want))
			e.checkClean(t)
		})
	}
}
