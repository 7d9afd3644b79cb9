package pgbouncer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// 16 concurrent loaders on 4 tables, each running append, delete_insert and
// upsert in turn, through 12 pgx connections sharing PgBouncer's 4 server
// connections: every load is correct and the cluster never sees more than 4.
func TestConcurrentLoads(t *testing.T) {
	t.Parallel()
	forVariants(t, func(t *testing.T, v variant) {
		e := setup(t, v)
		e.runLoaders(t, "c", 4, 16, serverPoolSize)
	})
}

// Every load of several concurrent loaders runs on PgBouncer's one server
// connection of its database: the transactions of different pgx connections
// follow each other on the same backend, TEMP stage included.
func TestOneServerConnection(t *testing.T) {
	t.Parallel()
	forVariants(t, func(t *testing.T, v variant) {
		e := setupOn(t, v, cluster.URL(singleDB))
		e.runLoaders(t, "one_"+v.name+"_", 4, 8, 1)
	})
}

// rounds are the modes each loader runs, in order, on its own keys.
var rounds = []loadsvcv1.Mode{loadsvcv1.Mode_MODE_APPEND, loadsvcv1.Mode_MODE_DELETE_INSERT, loadsvcv1.Mode_MODE_UPSERT}

const rowsPerLoad = 100

// runLoaders creates tables prefix0.. and runs loaders goroutines on them
// (loader g on table g%tables, keys g*1000..), then checks every table, that
// the pgx pool opened more connections than maxServer and that the cluster
// never saw more than maxServer of PgBouncer's server connections.
func (e *env) runLoaders(t *testing.T, prefix string, tables, loaders int, maxServer int64) {
	t.Helper()
	for i := range tables {
		// singleDB outlives a test run: -count=N meets the tables again.
		e.exec(t, fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s%[2]d; CREATE TABLE %[1]s%[2]d (id int PRIMARY KEY, a text, b int)`, prefix, i))
	}
	peak := e.watchServerConns(t)
	errs := make(chan error, loaders)
	var wg sync.WaitGroup
	for g := range loaders {
		wg.Go(func() { errs <- e.loadRounds(fmt.Sprintf("%s%d", prefix, g%tables), g*1000) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	seen := peak()
	for i := range tables {
		table := fmt.Sprintf("%s%d", prefix, i)
		want := int64(loaders / tables * rowsPerLoad)
		if got := e.count(t, fmt.Sprintf(`SELECT count(*) FROM %s WHERE a = 'r2-' || id AND b = %d`, table, len(rounds)-1)); got != want {
			t.Errorf("%s: %d rows hold the last round, want %d", table, got, want)
		}
	}
	if total := e.pool.Stat().TotalConns(); int64(total) <= maxServer {
		t.Errorf("the pgx pool has %d connections, not more than the %d server connections: nothing was shared", total, maxServer)
	}
	t.Logf("%d pgx connections shared at most %d server connection(s)", e.pool.Stat().TotalConns(), seen)
	if seen > maxServer || seen == 0 {
		t.Errorf("the cluster saw %d server connections at most, want 1..%d", seen, maxServer)
	}
	e.clean(t)
}

// loadRounds runs the modes of rounds on table, keys first..first+99.
func (e *env) loadRounds(table string, first int) error {
	for r, mode := range rounds {
		maps := make([]map[string]any, rowsPerLoad)
		for i := range maps {
			maps[i] = map[string]any{"id": first + i, "a": fmt.Sprintf("r%d-%d", r, first+i), "b": r}
		}
		req := &loadsvcv1.LoadRequest{Config: &loadsvcv1.LoadConfig{Table: table, Mode: mode, Pk: []string{"id"}, ChunkSize: 30}}
		if err := addRows(req, maps); err != nil {
			return err
		}
		resp, err := e.client.Load(context.Background(), req)
		if err != nil {
			return fmt.Errorf("%s %s keys %d..: %w", table, mode, first, err)
		}
		got := [3]int64{resp.Deleted, resp.Inserted, resp.Updated}
		want := map[loadsvcv1.Mode][3]int64{
			loadsvcv1.Mode_MODE_APPEND:        {0, rowsPerLoad, 0},
			loadsvcv1.Mode_MODE_DELETE_INSERT: {rowsPerLoad, rowsPerLoad, 0},
			loadsvcv1.Mode_MODE_UPSERT:        {0, 0, rowsPerLoad},
		}[mode]
		if got != want {
			return fmt.Errorf("%s %s keys %d..: (deleted, inserted, updated) %v, want %v", table, mode, first, got, want)
		}
	}
	return nil
}

// watchServerConns samples the cluster's count of PgBouncer's server
// connections to the database until the returned function is called, which
// returns the largest count seen.
func (e *env) watchServerConns(t *testing.T) func() int64 {
	t.Helper()
	var peak atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if n, err := e.serverConns(ctx); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return func() int64 {
		cancel()
		<-done
		return peak.Load()
	}
}
