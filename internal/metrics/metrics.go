package metrics

import (
	"errors"
	"strconv"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"

	"github.com/loadsvc/loadsvc/internal/server"
)

// namespace prefixes the service's own metric names.
const namespace = "loadsvc"

// DurationBuckets are the upper bounds, in seconds, of the load and gRPC
// handling histograms: from 1 ms (a plan, an empty request) to 10 min (a
// load near the statement timeout).
var DurationBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300, 600,
}

// Metrics counts loads for Prometheus. It is the server's Observer and
// carries the gRPC server interceptors. Its methods are safe for concurrent
// use.
type Metrics struct {
	loads    *prometheus.CounterVec
	rows     *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight *prometheus.GaugeVec
	grpc     *grpcprom.ServerMetrics
	tables   *tableLabels
}

var _ server.Observer = (*Metrics)(nil)

// New makes the metrics and registers them with reg, together with a
// PoolCollector of pool (nil: no database, no pool metrics) and the Go
// runtime and process collectors (kept as they are when reg has them
// already). A nil reg is prometheus.DefaultRegisterer. New panics when reg
// holds loadsvc's metrics already, as prometheus.MustRegister does.
func New(reg prometheus.Registerer, pool *pgxpool.Pool) *Metrics {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	m := newMetrics()
	reg.MustRegister(m.loads, m.rows, m.bytes, m.duration, m.inflight, m.grpc, NewPoolCollector(pool))
	registerRuntime(reg)
	return m
}

func newMetrics() *Metrics {
	tableLoad := []string{"method", "mode", "table"}
	return &Metrics{
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "loads_total",
			Help: "Load and LoadStream RPCs finished, by mode, table, gRPC code and whether they only planned."},
			[]string{"method", "mode", "table", "code", "plan_only", "dry_run"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "rows_total",
			Help: "Rows carried by loads that executed and succeeded."}, tableLoad),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "bytes_total",
			Help: "Request payload bytes (protobuf size) of loads that executed and succeeded."}, tableLoad),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "load_duration_seconds",
			Help: "Duration of executing loads (not plans), whatever their outcome.", Buckets: DurationBuckets},
			[]string{"method", "mode"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "inflight_loads",
			Help: "Load and LoadStream RPCs running now."}, []string{"method"}),
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets(DurationBuckets))),
		tables: newTableLabels(MaxTables),
	}
}

// registerRuntime registers the Go runtime and process collectors unless
// reg has them (the default registry does).
func registerRuntime(reg prometheus.Registerer) {
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		var already prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &already) {
			panic(err)
		}
	}
}

// ServerOptions are the gRPC server metrics interceptors. Put them before
// the server's other interceptors so that they also count what a recovered
// panic turned into.
func (m *Metrics) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(m.grpc.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.grpc.StreamServerInterceptor()),
	}
}

// InitializeMetrics makes every method of s appear in the gRPC metrics
// with zero counts before its first call. Call it after every service is
// registered on s.
func (m *Metrics) InitializeMetrics(s reflection.ServiceInfoProvider) {
	m.grpc.InitializeMetrics(s)
}

// LoadStarted counts a load RPC in flight.
func (m *Metrics) LoadStarted(method string) {
	m.inflight.WithLabelValues(method).Inc()
}

// LoadFinished counts what a load RPC did.
func (m *Metrics) LoadFinished(method string, o server.Outcome) {
	m.inflight.WithLabelValues(method).Dec()
	mode := modeLabel(o.Mode)
	table := refusedTable
	switch {
	case !o.Admitted:
	case o.PlanOnly:
		table = planTable
	case o.Resolved: // only tables the catalog found take a label slot
		table = m.tables.label(o.Table)
	default:
		table = unknownTable
	}
	m.loads.WithLabelValues(method, mode, table, o.Code.String(), strconv.FormatBool(o.PlanOnly), strconv.FormatBool(o.DryRun)).Inc()
	if o.PlanOnly {
		return
	}
	m.duration.WithLabelValues(method, mode).Observe(o.Duration.Seconds())
	if o.Code == codes.OK && !o.DryRun { // a dry run loads nothing
		m.rows.WithLabelValues(method, mode, table).Add(float64(o.Rows))
		m.bytes.WithLabelValues(method, mode, table).Add(float64(o.Bytes))
	}
}
