package metrics_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/internal/loader/pgexec"
	"github.com/loadsvc/loadsvc/internal/metrics"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// serveGRPC runs the load service on a loopback port, observed and
// intercepted by m as cmd/loadsvc wires it, and returns a client of it.
func serveGRPC(t *testing.T, m *metrics.Metrics, pool *pgxpool.Pool) loadsvcv1.LoadServiceClient {
	t.Helper()
	exec := &pgexec.Executor{Pool: pool, AcquireTimeout: 5 * time.Second}
	srv := server.New(exec, server.Options{Observer: m})
	gs := grpc.NewServer(append(m.ServerOptions(), server.ServerOptions(zap.NewNop())...)...)
	server.Register(gs, srv)
	m.InitializeMetrics(gs)
	return loadsvcv1.NewLoadServiceClient(testenv.ServeGRPC(t, gs))
}

// serveMetrics runs metrics.ServeListener for g on a loopback port until
// cleanup and returns the /metrics URL.
func serveMetrics(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.ServeListener(ctx, lis, g, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	})
	return "http://" + lis.Addr().String() + "/metrics"
}

// scrape is one scrape: the body and its metric families.
type scrape struct {
	body string
	fams map[string]*dto.MetricFamily
}

// get scrapes url over HTTP as Prometheus would.
func get(t *testing.T, url string) scrape {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, raw)
	}
	return scrape{body: string(raw), fams: fams}
}

// gathered is a scrape of reg without HTTP.
func gathered(t *testing.T, reg prometheus.Gatherer) scrape {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	s := scrape{fams: make(map[string]*dto.MetricFamily, len(mfs))}
	for _, mf := range mfs {
		s.fams[mf.GetName()] = mf
	}
	return s
}

// value sums the samples of family name whose labels include want: a
// counter's or gauge's value, a histogram's sample count.
func (s scrape) value(name string, want map[string]string) float64 {
	var sum float64
	for _, m := range s.fams[name].GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// labelValues lists every label value of every sample.
func (s scrape) labelValues() []string {
	var out []string
	for _, f := range s.fams {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				out = append(out, lp.GetValue())
			}
		}
	}
	return out
}

// rows builds JSON rows from Go maps.
func rows(t *testing.T, maps ...map[string]any) []*structpb.Struct {
	t.Helper()
	out := make([]*structpb.Struct, len(maps))
	for i, m := range maps {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}
