package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// A load's server span carries its load id (loadsvc.load_id), the one its
// answer gives.
func TestLoadSpanHasLoadID(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := newTestTracing(t, exp)
	url := cluster.NewDatabase(t)
	pool := tracedPool(t, url, tr)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE nav (id int PRIMARY KEY, v text)`); err != nil {
		t.Fatal(err)
	}
	resp, err := loadsvcv1.NewLoadServiceClient(serve(t, tr, pool)).Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "nav", Mode: loadsvcv1.Mode_MODE_APPEND}, Rows: rows(t, map[string]any{"id": 1})})
	if err != nil {
		t.Fatal(err)
	}
	rpc := waitSpan(t, exp, "loadsvc.v1.LoadService/Load")
	if got := attr(rpc, "loadsvc.load_id"); resp.LoadId == "" || got != resp.LoadId {
		t.Errorf("the server span's loadsvc.load_id is %q, the answer's load id %q", got, resp.LoadId)
	}
}
