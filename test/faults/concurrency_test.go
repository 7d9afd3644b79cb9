package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// Concurrent delete_insert loads of overlapping keys into one table that
// has no unique constraint: the loader's advisory lock serializes them, so
// the table ends with exactly one row per key, every key's value comes from
// a load that carried it, and no load is half-overwritten by another that
// ran at the same time (of two loads sharing keys, one wins all of them).
func TestConcurrentDeleteInsertOverlappingKeys(t *testing.T) {
	t.Parallel()
	const (
		workers = 8
		loads   = 20
		keys    = 60 // key space; each load carries 20 consecutive keys
		width   = 20
	)
	e := newEnv(t, maxConns(4))
	e.execSQL(t, `CREATE TABLE k (id int, v text)`) // no unique constraint
	e.execSQL(t, `INSERT INTO k SELECT g, 'seed' FROM generate_series(0, $1 - 1) g`, keys)

	type load struct {
		value string
		ids   []int
	}
	var (
		mu   sync.Mutex
		done []load
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for l := range loads {
				ids := seq(rng.IntN(keys-width+1), width)
				value := fmt.Sprintf("w%d-l%d", w, l)
				cfg := &loadsvcv1.LoadConfig{Table: "k", Pk: []string{"id"}}
				var err error
				if l%2 == 0 {
					_, err = e.client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: jsonRows(t, ids, value)})
				} else { // a stream of two messages
					var st loadsvcv1.LoadService_LoadStreamClient
					st, err = e.client.LoadStream(context.Background())
					if err == nil {
						err = st.Send(&loadsvcv1.LoadStreamRequest{Config: cfg, TypedRows: typedRows(ids[:width/2], value)})
					}
					if err == nil {
						err = st.Send(&loadsvcv1.LoadStreamRequest{TypedRows: typedRows(ids[width/2:], value)})
					}
					if err == nil {
						_, err = st.CloseAndRecv()
					}
				}
				if err != nil {
					t.Errorf("load %s: %v", value, err)
					continue
				}
				mu.Lock()
				done = append(done, load{value: value, ids: ids})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	if n := e.count(t, `SELECT count(*) FROM (SELECT id FROM k GROUP BY id HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d keys have more than one row", n)
	}
	if n := e.count(t, `SELECT count(*) FROM k`); n != keys {
		t.Errorf("table has %d rows, want %d (one per key)", n, keys)
	}
	owner := map[int]string{}
	rs, err := e.admin.Query(context.Background(), `SELECT id, v FROM k`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id int
		var v string
		if err := rs.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		owner[id] = v
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	carried := map[int]map[string]bool{}
	for _, l := range done {
		for _, id := range l.ids {
			if carried[id] == nil {
				carried[id] = map[string]bool{}
			}
			carried[id][l.value] = true
		}
	}
	for id := range keys {
		v := owner[id]
		if carried[id] == nil {
			if v != "seed" {
				t.Errorf("key %d, carried by no load, holds %q", id, v)
			}
			continue
		}
		if !carried[id][v] {
			t.Errorf("key %d holds %q, which no load of it carried", id, v)
		}
	}
	// Of two loads that share keys, the later one wins every shared key.
	for i, a := range done {
		for _, b := range done[i+1:] {
			var winsA, winsB []int
			for _, id := range a.ids {
				if id < b.ids[0] || id > b.ids[len(b.ids)-1] {
					continue
				}
				switch owner[id] {
				case a.value:
					winsA = append(winsA, id)
				case b.value:
					winsB = append(winsB, id)
				}
			}
			if len(winsA) > 0 && len(winsB) > 0 {
				t.Errorf("loads %s and %s interleaved: of their shared keys %s holds %v and %s holds %v", a.value, b.value, a.value, winsA, b.value, winsB)
			}
		}
	}
	t.Logf("%d concurrent delete_insert loads of overlapping keys serialized cleanly", len(done))
	e.checkClean(t)
}

// Keyed loads of different tables run in parallel; two of the same table
// serialize. Each slow load's trigger logs when it writes its rows.
func TestTableLocksSerializeOnlySameTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, maxConns(4))
	e.execSQL(t, `CREATE TABLE faults_log (tbl text, v text, at timestamptz)`)
	e.execSQL(t, `CREATE FUNCTION slow_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(0.04);
  INSERT INTO faults_log VALUES (TG_TABLE_NAME, NEW.v, clock_timestamp());
  RETURN NEW;
END $$`)
	for _, table := range []string{"a", "b"} {
		e.execSQL(t, `CREATE TABLE `+table+` (id int, v text)`)
		e.execSQL(t, `CREATE TRIGGER slow BEFORE INSERT ON `+table+` FOR EACH ROW EXECUTE FUNCTION slow_log()`)
	}
	// Two loads at once; each writes 10 rows x 40ms.
	pair := func(t *testing.T, tableA, valueA, tableB, valueB string) {
		t.Helper()
		var wg sync.WaitGroup
		for i, l := range []struct{ table, value string }{{tableA, valueA}, {tableB, valueB}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.client.Load(context.Background(), &loadsvcv1.LoadRequest{
					Config: &loadsvcv1.LoadConfig{Table: l.table, Pk: []string{"id"}}, Rows: jsonRows(t, seq(i*100, 10), l.value)})
				if err != nil {
					t.Errorf("load %s into %s: %v", l.value, l.table, err)
				}
			}()
		}
		wg.Wait()
	}
	// span is when the load that wrote value was writing.
	span := func(t *testing.T, value string) (from, to time.Time) {
		t.Helper()
		if err := e.admin.QueryRow(context.Background(), `SELECT min(at), max(at) FROM faults_log WHERE v = $1`, value).Scan(&from, &to); err != nil {
			t.Fatal(err)
		}
		return from, to
	}

	t.Run("different tables overlap", func(t *testing.T) {
		pair(t, "a", "da", "b", "db")
		aFrom, aTo := span(t, "da")
		bFrom, bTo := span(t, "db")
		if !aFrom.Before(bTo) || !bFrom.Before(aTo) {
			t.Errorf("loads of different tables did not overlap: a %v..%v, b %v..%v", aFrom, aTo, bFrom, bTo)
		}
	})
	t.Run("same table serializes", func(t *testing.T) {
		pair(t, "a", "s1", "a", "s2")
		from1, to1 := span(t, "s1")
		from2, to2 := span(t, "s2")
		if from1.Before(to2) && from2.Before(to1) {
			t.Errorf("loads of the same table overlapped: %v..%v and %v..%v", from1, to1, from2, to2)
		}
	})
	e.checkClean(t)
}
