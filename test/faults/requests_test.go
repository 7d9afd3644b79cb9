package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// jsonRows builds rows {id, v} for ids.
func jsonRows(t testing.TB, ids []int, v string) []*structpb.Struct {
	t.Helper()
	out := make([]*structpb.Struct, len(ids))
	for i, id := range ids {
		s, err := structpb.NewStruct(map[string]any{"id": id, "v": v})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

// seq is first, first+1, ..., first+n-1.
func seq(first, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out
}

// typedRows is the typed form of rows {id, v} for ids.
func typedRows(ids []int, v string) *loadsvcv1.TypedRows {
	i64 := make([]int64, len(ids))
	vs := make([]string, len(ids))
	for i, id := range ids {
		i64[i] = int64(id)
		vs[i] = v
	}
	return &loadsvcv1.TypedRows{Columns: []*loadsvcv1.TypedColumn{{Name: "id", Int64S: i64}, {Name: "v", Texts: vs}}}
}

// rowsOf is the expected content ("id=v,...") of ids all holding v.
func rowsOf(ids []int, v string) string {
	m := map[int]string{}
	for _, id := range ids {
		m[id] = v
	}
	return contentOf(m)
}

// contentOf renders a map of id to v as content does.
func contentOf(m map[int]string) string {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d=%s", id, m[id])
	}
	return strings.Join(parts, ",")
}

// wantCode fails unless err is a status with code and a message starting
// with prefix.
func wantCode(t *testing.T, err error, code codes.Code, prefix string) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a status", err)
	}
	if st.Code() != code || !strings.HasPrefix(st.Message(), prefix) {
		t.Fatalf("got %s %q, want %s with a message starting %q", st.Code(), st.Message(), code, prefix)
	}
	return st
}

// lostPrefix starts the message of a load whose session died.
const lostPrefix = "load failed: the database connection was lost, the transaction was rolled back and a retry is safe"

// slowStream is a LoadStream whose client sends its rows slowly: the
// config and a first row, then one row every interval, until stop is
// called or the server ends the stream. The service's COPY stays open,
// waiting on the client, the whole time.
type slowStream struct {
	stopOnce  sync.Once
	stopc     chan struct{}
	pauseOnce sync.Once
	pausec    chan struct{} // closed by pause
	paused    chan struct{} // closed when the sender has stopped sending
	done      chan struct{}
	resp      *loadsvcv1.LoadResponse
	err       error
	sent      atomic.Int64 // rows sent
	ids       []int        // the ids sent, valid after done
}

// maxSlowRows bounds a slow stream, so that a test that never stops one
// still ends.
const maxSlowRows = 3000

func (e *env) slowStream(ctx context.Context, t *testing.T, cfg *loadsvcv1.LoadConfig, first int, v string, every time.Duration) *slowStream {
	t.Helper()
	s := &slowStream{stopc: make(chan struct{}), done: make(chan struct{}), pausec: make(chan struct{}), paused: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	st, err := e.client.LoadStream(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		id := first
		msg := &loadsvcv1.LoadStreamRequest{Config: cfg, TypedRows: typedRows([]int{id}, v)}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for range maxSlowRows {
			if err := st.Send(msg); err != nil {
				if !errors.Is(err, io.EOF) {
					s.err = err
					return
				}
				break // the server has answered
			}
			s.ids = append(s.ids, id)
			s.sent.Add(1)
			select {
			case <-s.stopc:
				s.resp, s.err = st.CloseAndRecv()
				return
			case <-s.pausec:
				close(s.paused)
				<-s.stopc
				s.resp, s.err = st.CloseAndRecv()
				return
			case <-tick.C:
			}
			id++
			msg = &loadsvcv1.LoadStreamRequest{TypedRows: typedRows([]int{id}, v)}
		}
		s.resp, s.err = st.CloseAndRecv()
	}()
	t.Cleanup(func() {
		s.stop()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			cancel()
			<-s.done
		}
		cancel()
	})
	return s
}

// pause makes the client stop sending, without closing its side, and
// returns once it has; the stream stays open until stop.
func (s *slowStream) pause(t *testing.T) {
	t.Helper()
	s.pauseOnce.Do(func() { close(s.pausec) })
	select {
	case <-s.paused:
	case <-s.done:
		t.Fatalf("the stream ended before it could pause: %v", s.err)
	}
}

// stop makes the client close its side: the load then commits, unless the
// server has already failed it.
func (s *slowStream) stop() { s.stopOnce.Do(func() { close(s.stopc) }) }

// result waits up to 30s for the stream's answer.
func (s *slowStream) result(t *testing.T) (*loadsvcv1.LoadResponse, error) {
	t.Helper()
	select {
	case <-s.done:
		return s.resp, s.err
	case <-time.After(30 * time.Second):
		t.Fatal("the stream got no answer within 30s")
		return nil, nil
	}
}

// waitSent waits until at least n rows were sent.
func (s *slowStream) waitSent(t *testing.T, n int64) {
	t.Helper()
	if err := poll(20*time.Second, func() error {
		if s.sent.Load() < n {
			return fmt.Errorf("%d rows sent", s.sent.Load())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// asyncLoad runs a unary Load in the background.
type asyncLoad struct {
	done    chan struct{}
	resp    *loadsvcv1.LoadResponse
	err     error
	elapsed time.Duration
}

func (e *env) startLoad(ctx context.Context, req *loadsvcv1.LoadRequest) *asyncLoad {
	a := &asyncLoad{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		start := time.Now()
		a.resp, a.err = e.client.Load(ctx, req)
		a.elapsed = time.Since(start)
	}()
	return a
}

func (a *asyncLoad) result(t *testing.T) (*loadsvcv1.LoadResponse, error) {
	t.Helper()
	select {
	case <-a.done:
		return a.resp, a.err
	case <-time.After(60 * time.Second):
		t.Fatal("the load got no answer within 60s")
		return nil, nil
	}
}
