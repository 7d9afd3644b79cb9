package faults_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/server"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// PostgreSQL restarted between loads: the first load after the restart
// succeeds although every pooled connection is dead (they are replaced, not
// reported). PostgreSQL stopped: loads answer UNAVAILABLE within the
// connect timeout, plans still work, health reports the database under
// loadsvc.v1.LoadService while "" stays SERVING; started again, everything
// is back.
func TestPostgresRestartedAndStopped(t *testing.T) {
	t.Parallel()
	const poolMax = 4
	// connect timeout 0: pgexec's default, which the stopped case bounds.
	e := newEnv(t, ownCluster(), maxConns(poolMax))
	e.execSQL(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	want := map[int]string{}
	round := 0
	load := func(ctx context.Context) error {
		round++
		ids := seq(round*10, 5)
		_, err := e.client.Load(ctx, &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}},
			Rows:   jsonRows(t, ids, "r"+ident(round)),
		})
		if err == nil {
			for _, id := range ids {
				want[id] = "r" + ident(round)
			}
		}
		return err
	}
	if err := load(context.Background()); err != nil {
		t.Fatal(err)
	}

	for _, idle := range []int{2, poolMax} {
		t.Run("restart between loads with "+ident(idle)+" idle pooled sessions", func(t *testing.T) {
			fillPool(t, e, idle) // every pooled session will be dead after the restart
			e.restart(t)
			// The very next load, well within pgxpool's one-second no-ping
			// window, meets only dead pooled connections.
			if err := load(context.Background()); err != nil {
				t.Fatalf("first load after the restart: %v", err)
			}
			e.wantContent(t, "t", contentOf(want))
			e.checkClean(t)
		})
	}

	top := t
	t.Run("stopped", func(t *testing.T) {
		// The health watcher starts only now: its pings would clear dead
		// pooled connections the case above must meet.
		e.watchDatabase(top, 100*time.Millisecond)
		waitHealth(t, e, server.ServiceName, healthpb.HealthCheckResponse_SERVING)
		e.stop(t)
		start := time.Now()
		err := load(context.Background())
		st := wantCode(t, err, codes.Unavailable, "database connection failed: ")
		within(t, "UNAVAILABLE with PostgreSQL stopped", time.Since(start), pgexec.DefaultConnectTimeout+2*time.Second)
		if !hasReason(st.Details(), "DATABASE_CONNECTION_FAILED") {
			t.Errorf("details %v, want ErrorInfo DATABASE_CONNECTION_FAILED", st.Details())
		}
		t.Logf("stopped: %s after %v", st.Message(), fmtDur(time.Since(start)))

		plan, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true},
			Rows:   jsonRows(t, []int{1}, "plan"),
		})
		if err != nil || !plan.PlanOnly || !strings.Contains(plan.SqlScript, "COPY") {
			t.Fatalf("plan with PostgreSQL stopped: %v %v", plan, err)
		}
		waitHealth(t, e, server.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
		waitHealth(t, e, "", healthpb.HealthCheckResponse_SERVING)
	})

	t.Run("started again", func(t *testing.T) {
		e.startAgain(t)
		waitHealth(t, e, server.ServiceName, healthpb.HealthCheckResponse_SERVING)
		waitHealth(t, e, "", healthpb.HealthCheckResponse_SERVING)
		if err := load(context.Background()); err != nil {
			t.Fatalf("load after PostgreSQL came back: %v", err)
		}
		e.wantContent(t, "t", contentOf(want))
		e.checkClean(t)
	})
}

// PostgreSQL restarted while a load runs: ABORTED, nothing partial, and
// the retry after the restart succeeds.
func TestPostgresRestartedMidLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ownCluster())
	e.execSQL(t, `CREATE TABLE t (id int, v text)`)
	e.execSQL(t, `INSERT INTO t SELECT g, 'old' FROM generate_series(0, 9) g`)
	e.execSQL(t, `CREATE TABLE slow (id int, v text)`)
	e.execSQL(t, `CREATE TRIGGER slow BEFORE INSERT ON slow FOR EACH ROW EXECUTE FUNCTION faults_slow('0.01')`)
	n := 0
	for _, tc := range []struct {
		name   string
		table  string
		stream bool
	}{
		{name: "unary delete_insert in its slow INSERT", table: "slow"},
		{name: "stream delete_insert in COPY", table: "t", stream: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n++
			before := e.content(t, tc.table)
			cfg := &loadsvcv1.LoadConfig{Table: tc.table, Pk: []string{"id"}}
			var ids []int
			var err error
			if tc.stream {
				s := e.slowStream(context.Background(), t, cfg, 5, "new", 20*time.Millisecond)
				e.waitBackend(t, "COPY%")
				s.waitSent(t, 3)
				e.restart(t)
				_, err = s.result(t)
				ids = s.ids
			} else {
				ids = seq(0, 300)
				a := e.startLoad(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, ids, "new")})
				e.waitBackend(t, "INSERT%")
				e.restart(t)
				_, err = a.result(t)
			}
			wantCode(t, err, codes.Aborted, lostPrefix)
			if c := e.obs.code(t, tc.table, 1); c != codes.Aborted {
				t.Errorf("the server reported %s", c)
			}
			e.wantContent(t, tc.table, before)
			e.checkClean(t)

			if _, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, ids, "new")}); err != nil {
				t.Fatalf("retry after the restart: %v", err)
			}
			e.execSQL(t, `DELETE FROM `+tc.table) // the next case starts afresh
			e.checkClean(t)
		})
	}
}

// fillPool makes the pool hold n open idle connections.
func fillPool(t *testing.T, e *env, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		c, err := e.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
	}
}

// waitHealth waits up to 15s for the health of service to be want.
func waitHealth(t *testing.T, e *env, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	var last string
	if err := poll(15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := e.health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return err
		}
		last = resp.Status.String()
		if resp.Status != want {
			return errTimeout
		}
		return nil
	}); err != nil {
		t.Fatalf("health of %q: %s (%v), want %s", service, last, err, want)
	}
}

func hasReason(details []any, reason string) bool {
	for _, d := range details {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.Reason == reason {
			return true
		}
	}
	return false
}
