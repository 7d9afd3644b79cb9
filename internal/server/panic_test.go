package server_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/codes"

	"github.com/loadsvc/loadsvc/internal/loader"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// panickingExec runs loads on the real executor, whose row source panics
// once its first batch is taken: inside the COPY, on pgx's goroutine.
type panickingExec struct{ server.Executor }

func (e panickingExec) Run(ctx context.Context, cfg loader.Config, src loader.Source) (*loader.Result, error) {
	return e.Executor.Run(ctx, cfg, &panickingSource{src: src})
}

type panickingSource struct {
	src   loader.Source
	taken bool
}

func (s *panickingSource) Next(ctx context.Context) (*loader.Batch, error) {
	if s.taken {
		panic("row source bug")
	}
	s.taken = true
	return s.src.Next(ctx)
}

// A panic of a load's row source during the COPY, in a unary Load as in a
// stream, is INTERNAL with a generic message and logged with its stack; its
// connection is closed, not handed out again, and the service goes on.
func TestSourcePanicDuringCopy(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.ErrorLevel)
	e := testenv.New(t, cluster, testenv.MaxConns(1), testenv.Logger(zap.New(core)),
		testenv.WrapExecutor(func(x server.Executor) server.Executor { return panickingExec{x} }))
	if _, err := e.Admin.Exec(context.Background(), `CREATE TABLE t (id int)`); err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, stream := range []bool{false, true} {
		cfg := &loadsvcv1.LoadConfig{Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND}
		var err error
		if stream {
			s, serr := e.Client.LoadStream(context.Background())
			if serr != nil {
				t.Fatal(serr)
			}
			if err = s.Send(&loadsvcv1.LoadStreamRequest{Config: cfg, Rows: rows(t, map[string]any{"id": 1})}); err == nil {
				_, err = s.CloseAndRecv()
			}
		} else {
			_, err = e.Client.Load(context.Background(), &loadsvcv1.LoadRequest{Config: cfg, Rows: rows(t, map[string]any{"id": 1}, map[string]any{"id": 2})})
		}
		st := wantCode(t, err, codes.Internal, "internal error")
		if strings.Contains(st.Message(), "row source bug") {
			t.Errorf("the panic reached the client: %q", st.Message())
		}
		pids = append(pids, testenv.Texts(t, e.Pool, `SELECT pg_backend_pid()::text`)...)
	}
	entries := logs.FilterMessage("panic reading a load's rows").All()
	if len(entries) != 2 || !strings.Contains(entries[0].ContextMap()["stack"].(string), "panickingSource") {
		t.Errorf("the panics were not logged with their stacks: %v", entries)
	}
	if n := testenv.Texts(t, e.Admin, `SELECT count(*)::text FROM t`); n[0] != "0" {
		t.Errorf("%s rows stayed in the table", n[0])
	}
	// The one pooled connection after each panic is a new one.
	if len(pids) != 2 || pids[0] == pids[1] {
		t.Errorf("backend pids after the two panics: %v; want two new connections", pids)
	}
}
