package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// TestSoak runs concurrent workers for -soak.duration — delete_insert,
// upsert and append, unary and streamed — while random service backends
// are terminated about every second. Workers retry ABORTED and UNAVAILABLE
// with the same request. The expected content is well-defined whatever was
// retried: each worker owns its keys of the keyed tables and gives each
// (key, round) one value, so delete_insert and upsert are idempotent; the
// append table has a primary key and an append retried after its first
// attempt committed answers ALREADY_EXISTS, which counts as committed. At
// the end every table holds exactly the expected rows and nothing is left
// behind.
func TestSoak(t *testing.T) {
	t.Parallel()
	const (
		workers  = 8
		poolMax  = 4
		keySpace = 1000 // keys per worker in the keyed tables
	)
	duration := *soakDuration
	e := newEnv(t, maxConns(poolMax), acquireTimeout(10*time.Second))
	e.execSQL(t, `CREATE TABLE soak_di (id int, v text)`) // delete_insert; no unique constraint
	e.execSQL(t, `CREATE TABLE soak_up (id int PRIMARY KEY, v text)`)
	e.execSQL(t, `CREATE TABLE soak_app (id int PRIMARY KEY, v text)`)

	var (
		st      soakStats
		expMu   sync.Mutex
		expect  = map[string]map[int]string{"soak_di": {}, "soak_up": {}, "soak_app": {}}
		wg      sync.WaitGroup
		stopped = make(chan struct{})
	)
	start := time.Now()
	end := start.Add(duration)

	// The killer: about every second, terminate one or two random service
	// backends, busy or idle.
	var kills atomic.Int64
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stopped:
				return
			case <-time.After(time.Duration(500+rng.IntN(1000)) * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var n int64
			err := e.admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM
				(SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 ORDER BY random() LIMIT $2) s`,
				svcApp, 1+rng.IntN(2)).Scan(&n)
			cancel()
			if err != nil {
				t.Errorf("kill: %v", err)
				return
			}
			kills.Add(n)
		}
	}()

	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for r := 0; time.Now().Before(end); r++ {
				value := fmt.Sprintf("w%d-r%d", w, r)
				var table string
				var mode loadsvcv1.Mode
				var ids []int
				n := 50 + rng.IntN(250)
				switch rng.IntN(3) {
				case 0:
					table, mode = "soak_di", loadsvcv1.Mode_MODE_DELETE_INSERT
					ids = seq(w*keySpace+rng.IntN(keySpace-n), n)
				case 1:
					table, mode = "soak_up", loadsvcv1.Mode_MODE_UPSERT
					ids = seq(w*keySpace+rng.IntN(keySpace-n), n)
				default:
					table, mode = "soak_app", loadsvcv1.Mode_MODE_APPEND
					ids = seq(w*10_000_000+r*1000, n)
				}
				stream := rng.IntN(2) == 0
				if !soakLoad(t, e, &st, table, mode, ids, value, stream) {
					return
				}
				expMu.Lock()
				for _, id := range ids {
					expect[table][id] = value
				}
				expMu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopped)
	<-killed

	st.report(t, elapsed, workers, poolMax, kills.Load())
	for _, table := range []string{"soak_di", "soak_up", "soak_app"} {
		if n := e.count(t, `SELECT count(*) FROM (SELECT id FROM `+table+` GROUP BY id HAVING count(*) > 1) d`); n != 0 {
			t.Errorf("%s: %d keys have more than one row", table, n)
		}
		if got, want := e.content(t, table), contentOf(expect[table]); got != want {
			t.Errorf("%s holds %d rows, want %d; first difference: %s", table, strings.Count(got, ",")+1, len(expect[table]), firstDiff(got, want))
		}
	}
	if st.loads.Load() == 0 {
		t.Errorf("no load succeeded")
	}
	e.checkClean(t)
}

// soakLoad runs one load until it is known to have committed, retrying
// what a retry is for. It returns false when the load failed for good.
func soakLoad(t *testing.T, e *env, st *soakStats, table string, mode loadsvcv1.Mode, ids []int, value string, stream bool) bool {
	cfg := &loadsvcv1.LoadConfig{Table: table, Mode: mode, Pk: []string{"id"}}
	if mode == loadsvcv1.Mode_MODE_APPEND {
		cfg.Pk = nil
	}
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		began := time.Now()
		var err error
		if stream { // in messages of up to 100 rows
			var s loadsvcv1.LoadService_LoadStreamClient
			s, err = e.client.LoadStream(ctx)
			for i := 0; err == nil && i < len(ids); i += 100 {
				m := &loadsvcv1.LoadStreamRequest{TypedRows: typedRows(ids[i:min(i+100, len(ids))], value)}
				if i == 0 {
					m.Config = cfg
				}
				err = s.Send(m)
			}
			if err == nil || err.Error() == "EOF" {
				_, err = s.CloseAndRecv()
			}
		} else {
			_, err = e.client.Load(ctx, &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, ids, value)})
		}
		cancel()
		code := status.Code(err)
		st.count(code)
		switch {
		case err == nil:
			st.done(mode, stream, len(ids), time.Since(began))
			return true
		case code == codes.AlreadyExists && mode == loadsvcv1.Mode_MODE_APPEND && attempt > 1:
			// An earlier attempt committed; its answer was lost.
			st.replays.Add(1)
			st.done(mode, stream, len(ids), time.Since(began))
			return true
		case (code == codes.Aborted || code == codes.Unavailable) && attempt < 30:
			st.retries.Add(1)
			time.Sleep(time.Duration(10*attempt) * time.Millisecond)
		default:
			t.Errorf("%s %s load %s (attempt %d): %v", table, mode, value, attempt, err)
			return false
		}
	}
}

// soakStats are the soak's counters.
type soakStats struct {
	loads, rows, streams, retries, replays atomic.Int64
	mu                                     sync.Mutex
	byMode                                 map[loadsvcv1.Mode]int
	byCode                                 map[codes.Code]int
	latency                                []time.Duration
}

func (s *soakStats) count(c codes.Code) {
	if c == codes.OK {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byCode == nil {
		s.byCode = map[codes.Code]int{}
	}
	s.byCode[c]++
}

func (s *soakStats) done(mode loadsvcv1.Mode, stream bool, rows int, d time.Duration) {
	s.loads.Add(1)
	s.rows.Add(int64(rows))
	if stream {
		s.streams.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byMode == nil {
		s.byMode = map[loadsvcv1.Mode]int{}
	}
	s.byMode[mode]++
	s.latency = append(s.latency, d)
}

func (s *soakStats) report(t *testing.T, elapsed time.Duration, workers, poolMax int, kills int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lat := append([]time.Duration(nil), s.latency...)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	codesLine := []string{}
	for c, n := range s.byCode {
		codesLine = append(codesLine, fmt.Sprintf("%s=%d", c, n))
	}
	sort.Strings(codesLine)
	if len(codesLine) == 0 {
		codesLine = []string{"none"}
	}
	t.Logf("soak: %v, %d workers, pool_max_conns=%d", elapsed.Round(time.Millisecond), workers, poolMax)
	t.Logf("soak: %d loads (delete_insert %d, upsert %d, append %d; %d streamed), %d rows, %.0f rows/s, %.1f loads/s",
		s.loads.Load(), s.byMode[loadsvcv1.Mode_MODE_DELETE_INSERT], s.byMode[loadsvcv1.Mode_MODE_UPSERT], s.byMode[loadsvcv1.Mode_MODE_APPEND],
		s.streams.Load(), s.rows.Load(), float64(s.rows.Load())/elapsed.Seconds(), float64(s.loads.Load())/elapsed.Seconds())
	t.Logf("soak: latency of a successful attempt p50 %v, p99 %v, max %v", fmtDur(pct(0.50)), fmtDur(pct(0.99)), fmtDur(pct(1)))
	t.Logf("soak: %d backends killed; errors by code: %s; %d retries; %d appends found committed on retry (ALREADY_EXISTS)",
		kills, strings.Join(codesLine, " "), s.retries.Load(), s.replays.Load())
}

// firstDiff shows where two contents part.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, ","), strings.Split(want, ",")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gi, wi string
		if i < len(g) {
			gi = g[i]
		}
		if i < len(w) {
			wi = w[i]
		}
		if gi != wi {
			return fmt.Sprintf("row %d is %q, want %q", i, gi, wi)
		}
	}
	return "none"
}
