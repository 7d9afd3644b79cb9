package faults_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Network faults between the service and PostgreSQL, injected by a
// netfault proxy the service's pool connects through: latency, a reset
// mid-load, a blackhole mid-load and for new connections, then healing.
func TestNetworkFaults(t *testing.T) {
	t.Parallel()

	t.Run("latency", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withProxy(), maxConns(1))
		e.execSQL(t, `CREATE TABLE t (id int, v text)`)
		cfg := &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}
		load := func(v string) time.Duration {
			t.Helper()
			start := time.Now()
			if _, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, seq(0, 200), v)}); err != nil {
				t.Fatalf("load with latency %s: %v", v, err)
			}
			return time.Since(start)
		}
		load("warm") // connects
		base := load("none")
		const latency = 25 * time.Millisecond
		e.proxy.SetLatency(latency)
		slow := load("25ms")
		t.Logf("delete_insert of 200 rows: %v without latency, %v with %v each way", fmtDur(base), fmtDur(slow), latency)
		// BEGIN, catalog, lock, stage, COPY, ANALYZE, DELETE, INSERT,
		// COMMIT: at least 8 round trips of 2 x latency each.
		if slow < base+8*2*latency {
			t.Errorf("the load took %v with %v latency each way, %v without: latency not felt", slow, latency, base)
		}
		e.wantContent(t, "t", rowsOf(seq(0, 200), "25ms"))

		s := e.slowStream(context.Background(), t, cfg, 0, "stream", time.Millisecond)
		s.waitSent(t, 20)
		s.stop()
		if _, err := s.result(t); err != nil {
			t.Fatalf("stream with latency: %v", err)
		}
		want := map[int]string{}
		for _, id := range seq(0, 200) {
			want[id] = "25ms"
		}
		for _, id := range s.ids {
			want[id] = "stream"
		}
		e.wantContent(t, "t", contentOf(want))
		e.proxy.Heal()
		e.checkClean(t)
	})

	t.Run("reset mid-load", func(t *testing.T) {
		t.Parallel()
		for _, stream := range []bool{false, true} {
			name := "unary append in slow COPY"
			if stream {
				name = "stream delete_insert in COPY"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, withProxy(), maxConns(2))
				e.execSQL(t, `CREATE TABLE t (id int, v text)`)
				e.execSQL(t, `INSERT INTO t SELECT g, 'old' FROM generate_series(0, 9) g`)
				before := e.content(t, "t")
				var err error
				if stream {
					s := e.slowStream(context.Background(), t, &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, 5, "new", 20*time.Millisecond)
					e.waitBackend(t, "COPY%")
					s.waitSent(t, 3)
					e.proxy.Reset()
					_, err = s.result(t)
				} else {
					// 150 rows x 10ms: the backend is busy for 1.5s and
					// learns of the reset only when it next reads.
					e.execSQL(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION faults_slow('0.01')`)
					a := e.startLoad(context.Background(), &loadsvcv1.LoadRequest{
						Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: jsonRows(t, seq(10, 150), "new")})
					e.waitBackend(t, "COPY%")
					e.proxy.Reset()
					_, err = a.result(t)
				}
				wantCode(t, err, codes.Aborted, lostPrefix)
				e.waitClean(t)
				e.wantContent(t, "t", before)
				if !stream {
					e.execSQL(t, `DROP TRIGGER slow ON t`)
				}
				e.checkClean(t)
			})
		}
	})

	t.Run("blackhole", func(t *testing.T) {
		t.Parallel()
		const connect = time.Second
		e := newEnv(t, withProxy(), maxConns(2), connectTimeout(connect))
		e.execSQL(t, `CREATE TABLE t (id int, v text)`)
		e.execSQL(t, `INSERT INTO t SELECT g, 'old' FROM generate_series(0, 9) g`)
		e.execSQL(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION faults_slow('0.01')`)
		before := e.content(t, "t")
		cfg := &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}

		// Mid-load: the client's deadline bounds it.
		const deadline = 2 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		a := e.startLoad(ctx, &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, seq(5, 300), "new")})
		e.waitBackend(t, "INSERT%")
		e.proxy.Blackhole()
		_, err := a.result(t)
		wantCode(t, err, codes.DeadlineExceeded, "")
		// The server gives up too: the deadline, then pgx's 3s for the
		// cancel request (which the blackhole swallows) before it closes
		// the socket.
		out := e.obs.wait(t, "t", 1)[0]
		if out.Code != codes.DeadlineExceeded && out.Code != codes.Canceled {
			t.Errorf("the server reported %s", out.Code)
		}
		within(t, "the server ending a blackholed load", time.Since(start), deadline+3*time.Second+3*time.Second)

		// A new load meets only the blackhole: its connect times out.
		start = time.Now()
		_, err = e.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, []int{1}, "during")})
		st := wantCode(t, err, codes.Unavailable, "database connection failed: ")
		within(t, "a new load through the blackhole", time.Since(start), connect+3*time.Second)
		t.Logf("new load during the blackhole: %s after %v", st.Message(), fmtDur(time.Since(start)))

		// Healed, the stranded backend learns its client is gone, nothing
		// of the load stays, and the next load succeeds.
		e.proxy.Heal()
		e.waitClean(t)
		e.wantContent(t, "t", before)
		e.execSQL(t, `DROP TRIGGER slow ON t`)
		e.checkClean(t)
		if _, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, []int{1}, "after")}); err != nil {
			t.Fatalf("load after the heal: %v", err)
		}
		want := map[int]string{}
		for id := range 10 {
			want[id] = "old"
		}
		want[1] = "after"
		e.wantContent(t, "t", contentOf(want))
	})

	t.Run("blackhole at connect with the default connect timeout", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withProxy()) // connect timeout: pgexec's default
		e.execSQL(t, `CREATE TABLE t (id int, v text)`)
		e.proxy.Blackhole()
		start := time.Now()
		_, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, []int{1}, "x")})
		elapsed := time.Since(start)
		wantCode(t, err, codes.Unavailable, "database connection failed: ")
		if elapsed < pgexec.DefaultConnectTimeout-500*time.Millisecond {
			t.Errorf("UNAVAILABLE after %v, before the connect timeout %v", elapsed, pgexec.DefaultConnectTimeout)
		}
		within(t, "a connect into a blackhole", elapsed, pgexec.DefaultConnectTimeout+3*time.Second)
		e.proxy.Heal()
		e.wantContent(t, "t", "")
		e.checkClean(t)
	})

	t.Run("blackhole without client deadline", func(t *testing.T) {
		t.Parallel()
		// The server's own bounds: statement_timeout cannot help (its
		// error never crosses the blackhole), so the service must bound
		// the wait for an answer itself.
		e := newEnv(t, withProxy(), maxConns(2), connectTimeout(time.Second), statementTimeout(time.Second))
		e.execSQL(t, `CREATE TABLE t (id int, v text)`)
		e.execSQL(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION faults_slow('0.01')`)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		a := e.startLoad(ctx, &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}}, Rows: jsonRows(t, seq(0, 300), "new")})
		e.waitBackend(t, "INSERT%")
		e.proxy.Blackhole()
		select {
		case <-a.done:
			c := status.Code(a.err)
			if c != codes.DeadlineExceeded && c != codes.Unavailable && c != codes.Aborted {
				t.Errorf("blackholed load without a client deadline: %v", a.err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("a load without a client deadline hangs behind a blackhole (statement_timeout=1s)")
		}
		e.proxy.Heal()
		cancel()
		<-a.done
		e.execSQL(t, `DROP TRIGGER slow ON t`)
		e.checkClean(t)
	})
}
