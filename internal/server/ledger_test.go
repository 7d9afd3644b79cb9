package server_test

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// commitCutter is a TCP proxy in front of PostgreSQL that, once armed,
// forwards the next COMMIT to the server, waits until the server answers
// that it committed, and then cuts the connection without passing that
// answer on: the load commits, the service sees a lost connection.
type commitCutter struct {
	lis   net.Listener
	to    string
	armed atomic.Bool
	cut   chan struct{}
	wg    sync.WaitGroup
}

func newCommitCutter(t *testing.T, to string) *commitCutter {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &commitCutter{lis: lis, to: to, cut: make(chan struct{}, 16)}
	p.wg.Go(p.accept)
	t.Cleanup(func() { lis.Close(); p.wg.Wait() })
	return p
}

func (p *commitCutter) accept() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		var blocked atomic.Bool
		committed := make(chan struct{})
		p.wg.Go(func() { p.clientToServer(c, s, &blocked, committed) })
		p.wg.Go(func() { serverToClient(s, c, &blocked, committed) })
	}
}

func (p *commitCutter) clientToServer(c, s net.Conn, blocked *atomic.Bool, committed <-chan struct{}) {
	defer c.Close()
	defer s.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			commit := bytes.Contains(buf[:n], []byte("COMMIT\x00"))
			if commit && p.armed.CompareAndSwap(true, false) {
				blocked.Store(true) // the answer must not get through
				s.Write(buf[:n])    // if COMMIT is lost, the test sees it: the retry is then no replay
				select {
				case <-committed:
				case <-time.After(30 * time.Second): // the test finds no rows
				}
				p.cut <- struct{}{}
				return
			}
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serverToClient forwards what the server says until blocked; from then on
// it keeps it from the client and closes committed when the server's
// CommandComplete for COMMIT arrives: the transaction is committed.
func serverToClient(s, c net.Conn, blocked *atomic.Bool, committed chan<- struct{}) {
	buf := make([]byte, 64<<10)
	var held []byte
	for {
		n, err := s.Read(buf)
		switch {
		case n == 0:
		case !blocked.Load():
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		case committed != nil:
			if held = append(held, buf[:n]...); bytes.Contains(held, []byte("COMMIT\x00")) {
				close(committed)
				committed = nil
			}
		}
		if err != nil {
			return
		}
	}
}

// The connection dropped during COMMIT, then the worker retries with the
// same request_id: exactly one copy of the rows, and the retry is a replay.
func TestRequestIDExactlyOnce(t *testing.T) {
	t.Parallel()
	direct := setup(t)
	direct.exec1(t, `CREATE TABLE t (id int, v text)`) // no key: a second copy would show
	direct.exec1(t, `CREATE TABLE other (id int, v text)`)
	u, err := url.Parse(direct.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCommitCutter(t, u.Host)
	u.Host = proxy.lis.Addr().String()
	b := setup(t, withURL(u.String()))
	b.admin = direct.admin

	req := func(id string, first int) *loadsvcv1.LoadRequest {
		return &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, RequestId: id},
			Rows:   seqRows(t, first, 3),
		}
	}
	proxy.armed.Store(true)
	_, err = b.client.Load(context.Background(), req("job-1", 0))
	wantCode(t, err, codes.Aborted, "load failed: the database connection was lost")
	<-proxy.cut
	if n := b.count(t, `SELECT count(*) FROM t`); n != 3 {
		t.Fatalf("the cut COMMIT should have committed: %d rows", n)
	}

	resp, err := b.client.Load(context.Background(), req("job-1", 0))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Replayed || resp.Inserted != 3 || resp.Rows != 3 {
		t.Errorf("retry: %v", resp)
	}
	if n := b.count(t, `SELECT count(*) FROM t`); n != 3 {
		t.Errorf("after the retry the table has %d rows, want 3", n)
	}

	// The same id for other rows, or another table, is a conflict.
	_, err = b.client.Load(context.Background(), req("job-1", 10))
	wantCode(t, err, codes.AlreadyExists, `request_id "job-1" was already used with a different payload`)
	other := req("job-1", 0)
	other.Config.Table = "other"
	_, err = b.client.Load(context.Background(), other)
	wantCode(t, err, codes.AlreadyExists, `request_id "job-1" was already used for table "t"`)

	// Concurrent loads of one new id: one writes, the others replay.
	var wg sync.WaitGroup
	var replays atomic.Int32
	for range 4 {
		wg.Go(func() {
			resp, err := b.client.Load(context.Background(), req("job-2", 100))
			if err != nil {
				t.Error(err)
				return
			}
			if resp.Replayed {
				replays.Add(1)
			}
		})
	}
	wg.Wait()
	if replays.Load() != 3 {
		t.Errorf("%d replays, want 3", replays.Load())
	}
	if n := b.count(t, `SELECT count(*) FROM t WHERE id >= 100`); n != 3 {
		t.Errorf("concurrent loads of one id wrote %d rows, want 3", n)
	}

	// A stream with a request id replays too, after reading its rows.
	cfg := &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, RequestId: "job-3"}
	for i, want := range []bool{false, true} {
		resp, err := send(context.Background(), t, b.client, cfg, typedIDs(200, 2), typedIDs(202, 2))
		if err != nil || resp.Replayed != want || resp.Inserted != 4 {
			t.Errorf("stream %d: %v %v", i, resp, err)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM t WHERE id >= 200`); n != 4 {
		t.Errorf("stream and its replay wrote %d rows, want 4", n)
	}
	if n := b.count(t, `SELECT count(*) FROM loadsvc.load_ledger`); n != 3 {
		t.Errorf("ledger has %d entries, want 3", n)
	}
	b.clean(t)
}
