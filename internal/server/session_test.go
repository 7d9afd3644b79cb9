package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// An executing load acquires exactly one connection and gives it back, on
// success and on a load failure; a failed load leaves nothing behind.
func TestLoadAcquiresOneConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec1(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	b.exec1(t, `INSERT INTO t VALUES (5, 'existing')`)
	ctx := context.Background()

	before := b.pool.Stat().AcquireCount()
	resp, err := b.client.Load(ctx, &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, ChunkSize: 2},
		Rows:   seqRows(t, 1, 4),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.pool.Stat().AcquireCount() - before; got != 1 {
		t.Errorf("success: AcquireCount grew by %d, want 1", got)
	}
	if resp.Inserted != 4 || resp.Batches != 2 {
		t.Errorf("success: got %v", resp)
	}
	b.clean(t)

	// append of ids 4..6 collides with 5: nothing of the request may stay.
	before = b.pool.Stat().AcquireCount()
	_, err = b.client.Load(ctx, &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, ChunkSize: 1},
		Rows:   seqRows(t, 6, 1),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.client.Load(ctx, &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, ChunkSize: 1},
		Rows:   rows(t, map[string]any{"id": 7, "v": "x"}, map[string]any{"id": 5, "v": "dup"}),
	})
	wantCode(t, err, codes.AlreadyExists, "load failed: duplicate key value")
	if got := b.pool.Stat().AcquireCount() - before; got != 2 {
		t.Errorf("two loads: AcquireCount grew by %d, want 2", got)
	}
	if n := b.count(t, `SELECT count(*) FROM t WHERE id = 7 OR v = 'dup'`); n != 0 {
		t.Errorf("failed load left %d rows", n)
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 6 {
		t.Errorf("table has %d rows, want 6", n)
	}
	b.clean(t)
}

// A request whose deadline passes during the copy writes nothing, stops its
// backend, leaves no transaction or TEMP table, and the pool still serves.
func TestLoadCancelledDuringCopy(t *testing.T) {
	t.Parallel()
	for _, mode := range []loadsvcv1.Mode{loadsvcv1.Mode_MODE_APPEND, loadsvcv1.Mode_MODE_DELETE_INSERT} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			b := setup(t, withMaxConns(1))
			b.exec1(t, `CREATE TABLE t (id int, v text)`)
			// Each inserted row sleeps, so the load is still running when the
			// client's deadline passes.
			b.exec1(t, `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$`)
			b.exec1(t, `CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow()`)
			_, err := b.client.Load(ctxTimeout(t, 700*time.Millisecond), &loadsvcv1.LoadRequest{
				Config: &loadsvcv1.LoadConfig{Table: "t", Mode: mode, Pk: []string{"id"}},
				Rows:   seqRows(t, 0, 2000),
			})
			wantCode(t, err, codes.DeadlineExceeded, "")
			b.clean(t)
			if n := b.count(t, `SELECT count(*) FROM t`); n != 0 {
				t.Fatalf("cancelled load left %d rows", n)
			}
			b.exec1(t, `DROP TRIGGER slow ON t`)
			resp, err := b.client.Load(ctxTimeout(t, 10*time.Second), &loadsvcv1.LoadRequest{
				Config: &loadsvcv1.LoadConfig{Table: "t", Mode: mode, Pk: []string{"id"}},
				Rows:   seqRows(t, 0, 10),
			})
			if err != nil || resp.Inserted != 10 {
				t.Fatalf("load after the cancel: %v %v", resp, err)
			}
			b.clean(t)
		})
	}
}

// Plan-only and empty requests acquire nothing, and work with no database
// reachable at all.
func TestPlanAndEmptyNeedNoConnection(t *testing.T) {
	t.Parallel()
	down := setup(t, withURL("postgres://postgres:pw@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"))
	none := setup(t, withNoDB())
	live := setup(t)
	for name, b := range map[string]*bundle{"down": down, "none": none, "live": live} {
		var before int64
		if b.pool != nil {
			before = b.pool.Stat().AcquireCount()
		}
		plan, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}, PlanOnly: true},
			Rows:   seqRows(t, 0, 3),
		})
		if err != nil || !plan.PlanOnly || plan.SqlScript == "" || plan.Deleted != 3 || len(plan.Statements) == 0 {
			t.Errorf("%s: plan: %v %v", name, plan, err)
		}
		empty, err := b.client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Pk: []string{"id"}},
		})
		if err != nil || empty.Inserted != 0 || empty.Batches != 0 || empty.Mode != loadsvcv1.Mode_MODE_DELETE_INSERT {
			t.Errorf("%s: empty: %v %v", name, empty, err)
		}
		// The config of an empty request is still validated.
		_, err = b.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "t"}})
		wantCode(t, err, codes.InvalidArgument, "mode delete_insert needs key columns")
		if b.pool != nil && b.pool.Stat().AcquireCount() != before {
			t.Errorf("%s: AcquireCount changed from %d to %d", name, before, b.pool.Stat().AcquireCount())
		}
	}
}

// Every statement of a load runs on one backend: concurrent delete_insert
// loads through pools of one and of many connections all see their stage.
func TestConcurrentLoadsOneSessionEach(t *testing.T) {
	t.Parallel()
	for _, conns := range []int{1, 8} {
		t.Run(itoa(conns), func(t *testing.T) {
			t.Parallel()
			b := setup(t, withMaxConns(conns))
			for i := range 4 {
				b.exec1(t, `CREATE TABLE t`+itoa(i)+` (id int PRIMARY KEY, v text)`)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 32)
			for w := range 16 {
				wg.Go(func() {
					table := "t" + itoa(w%4)
					_, err := b.client.Load(ctxTimeout(t, 30*time.Second), &loadsvcv1.LoadRequest{
						Config: &loadsvcv1.LoadConfig{Table: table, Pk: []string{"id"}, ChunkSize: 50},
						Rows:   seqRows(t, (w/4)*100, 150), // overlapping keys per table
					})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			for i := range 4 {
				// Keys 0..449 overlap; delete_insert keeps exactly one row each.
				if n := b.count(t, `SELECT count(*) FROM t`+itoa(i)); n != 450 {
					t.Errorf("t%d has %d rows, want 450", i, n)
				}
			}
			if got := b.pool.Stat().TotalConns(); got > int32(conns) {
				t.Errorf("pool opened %d conns, max %d", got, conns)
			}
			b.clean(t)
		})
	}
}
