package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Every pooled connection held by slow loads: a further request waits up
// to the executor's AcquireTimeout, then answers UNAVAILABLE naming the
// exhaustion; one whose own deadline is shorter answers DEADLINE_EXCEEDED.
// The slow loads finish unharmed.
func TestPoolExhausted(t *testing.T) {
	t.Parallel()
	const wait = 500 * time.Millisecond
	e := newEnv(t, maxConns(2), acquireTimeout(wait))
	for _, table := range []string{"a", "b", "c"} {
		e.execSQL(t, `CREATE TABLE `+table+` (id int, v text)`)
	}
	// Two slow streams (different tables: they do not serialize) hold
	// both connections.
	var holders []*slowStream
	for i, table := range []string{"a", "b"} {
		holders = append(holders, e.slowStream(context.Background(), t, &loadsvcv1.LoadConfig{Table: table, Pk: []string{"id"}}, i*1000, "held", 20*time.Millisecond))
	}
	if err := poll(20*time.Second, func() error {
		if n := e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND query LIKE 'COPY%' AND state = 'active'`, svcApp); n != 2 {
			return fmt.Errorf("%d loads in COPY", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: "c", Pk: []string{"id"}}, Rows: jsonRows(t, []int{1}, "x")}
	start := time.Now()
	_, err := e.client.Load(context.Background(), req)
	elapsed := time.Since(start)
	st := wantCode(t, err, codes.Unavailable, "database connection failed: no pooled connection free after waiting 500ms: all 2 of pool_max_conns=2 are in use")
	if !hasReason(st.Details(), "DATABASE_CONNECTION_FAILED") {
		t.Errorf("details %v", st.Details())
	}
	if elapsed < wait-50*time.Millisecond {
		t.Errorf("UNAVAILABLE after %v, before the acquire timeout of %v", elapsed, wait)
	}
	within(t, "UNAVAILABLE on an exhausted pool", elapsed, wait+2*time.Second)

	// A request whose own deadline passes first gets DEADLINE_EXCEEDED.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = e.client.Load(ctx, req)
	wantCode(t, err, codes.DeadlineExceeded, "")

	var want []string
	for _, h := range holders {
		h.stop()
		if _, err := h.result(t); err != nil {
			t.Fatalf("a slow load holding the pool failed: %v", err)
		}
	}
	for i, table := range []string{"a", "b"} {
		want = append(want, rowsOf(holders[i].ids, "held"))
		e.wantContent(t, table, want[i])
	}
	e.wantContent(t, "c", "")
	e.checkClean(t)
}

// A storm of requests cancelled or timed out at random points — while
// waiting for a connection, connecting, in the COPY, in the commit — never
// opens more backends than the pool's maximum, never commits part of a
// load, and leaves the pool serving.
func TestCancelStormStaysWithinPool(t *testing.T) {
	t.Parallel()
	const (
		poolMax = 3
		workers = 16
		rows    = 20
	)
	storm := 3 * time.Second
	e := newEnv(t, maxConns(poolMax), acquireTimeout(2*time.Second))
	e.execSQL(t, `CREATE TABLE s (id int PRIMARY KEY, v text)`)
	// 20 rows x 4ms: a load takes ~100ms, the deadlines below 10..250ms.
	e.execSQL(t, `CREATE TRIGGER slow BEFORE INSERT ON s FOR EACH ROW EXECUTE FUNCTION faults_slow('0.004')`)

	// Sample the service's backends throughout.
	var maxBackends, samples atomic.Int64
	var maxPool atomic.Int32
	sctx, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan error, 1)
	go func() {
		for sctx.Err() == nil {
			n, err := e.serviceBackends(sctx)
			if err != nil {
				if sctx.Err() == nil {
					sampled <- err
					return
				}
				break
			}
			samples.Add(1)
			if n > maxBackends.Load() {
				maxBackends.Store(n)
			}
			if p := e.pool.Stat().TotalConns(); p > maxPool.Load() {
				maxPool.Store(p)
			}
			time.Sleep(2 * time.Millisecond)
		}
		sampled <- nil
	}()

	var (
		mu      sync.Mutex
		byCode  = map[codes.Code]int{}
		lastErr = map[codes.Code]string{} // the last message of each code, to name an unexpected one
		okRange []int                     // first ids of the loads that answered OK
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	end := time.Now().Add(storm)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for time.Now().Before(end) {
				first := int(next.Add(1)) * 100
				ctx, cancel := context.WithCancel(context.Background())
				switch rng.IntN(4) {
				case 0: // a patient client
					ctx, cancel = context.WithTimeout(ctx, 20*time.Second)
				case 1:
					ctx, cancel = context.WithTimeout(ctx, time.Duration(10+rng.IntN(240))*time.Millisecond)
				default:
					time.AfterFunc(time.Duration(rng.IntN(250))*time.Millisecond, cancel)
				}
				_, err := e.client.Load(ctx, &loadsvcv1.LoadRequest{
					Config: &loadsvcv1.LoadConfig{Table: "s", Mode: loadsvcv1.Mode_MODE_APPEND},
					Rows:   jsonRows(t, seq(first, rows), fmt.Sprint(first)),
				})
				cancel()
				mu.Lock()
				byCode[status.Code(err)]++
				if err != nil {
					lastErr[status.Code(err)] = err.Error()
				}
				if err == nil {
					okRange = append(okRange, first)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	e.waitClean(t)
	stopSampling()
	if err := <-sampled; err != nil {
		t.Fatalf("sampling pg_stat_activity: %v", err)
	}
	t.Logf("%d requests: %v; backends at most %d (%d samples), pool at most %d, %d connects",
		next.Load(), byCode, maxBackends.Load(), samples.Load(), maxPool.Load(), e.pool.Stat().NewConnsCount())
	if maxBackends.Load() > poolMax {
		t.Errorf("%d service backends at once, pool_max_conns is %d", maxBackends.Load(), poolMax)
	}
	for c := range byCode {
		switch c {
		case codes.OK, codes.Canceled, codes.DeadlineExceeded:
		default:
			t.Errorf("%d requests answered %s, the last: %s", byCode[c], c, lastErr[c])
		}
	}
	if byCode[codes.Canceled]+byCode[codes.DeadlineExceeded] == 0 || byCode[codes.OK] == 0 {
		t.Errorf("the storm should both cancel and complete loads: %v", byCode)
	}

	// Every load is all or nothing; every load that answered OK is there.
	ctx := context.Background()
	rs, err := e.admin.Query(ctx, `SELECT min(id), count(*), min(v) = max(v) AND min(v) = min(id)::text FROM s GROUP BY id / 100 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	present := map[int]bool{}
	for rs.Next() {
		var first, n int
		var same bool
		if err := rs.Scan(&first, &n, &same); err != nil {
			t.Fatal(err)
		}
		if n != rows || !same {
			t.Errorf("load %d left %d of its %d rows (consistent values: %v)", first, n, rows, same)
		}
		present[first] = true
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Ints(okRange)
	for _, first := range okRange {
		if !present[first] {
			t.Errorf("load %d answered OK but is not in the table", first)
		}
	}
	e.execSQL(t, `DROP TRIGGER slow ON s`)
	e.checkClean(t)
}
