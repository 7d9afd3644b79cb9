package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolMetric is one value of pgxpool.Stat as a metric.
type poolMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*pgxpool.Stat) float64
}

// PoolCollector reports a pgx pool's statistics, read at scrape time.
// A PoolCollector of a nil pool (no database configured) reports nothing.
type PoolCollector struct {
	pool    *pgxpool.Pool
	metrics []poolMetric
}

var _ prometheus.Collector = (*PoolCollector)(nil)

// NewPoolCollector returns a collector of pool, which may be nil.
func NewPoolCollector(pool *pgxpool.Pool) *PoolCollector {
	return &PoolCollector{pool: pool, metrics: poolMetrics()}
}

func poolMetrics() []poolMetric {
	gauge := func(name, help string, f func(*pgxpool.Stat) int32) poolMetric {
		return poolMetric{poolDesc(name, help), prometheus.GaugeValue, func(s *pgxpool.Stat) float64 { return float64(f(s)) }}
	}
	counter := func(name, help string, f func(*pgxpool.Stat) int64) poolMetric {
		return poolMetric{poolDesc(name, help), prometheus.CounterValue, func(s *pgxpool.Stat) float64 { return float64(f(s)) }}
	}
	seconds := func(name, help string, f func(*pgxpool.Stat) float64) poolMetric {
		return poolMetric{poolDesc(name, help), prometheus.CounterValue, f}
	}
	return []poolMetric{
		gauge("acquired_conns", "Connections acquired by a load now.", (*pgxpool.Stat).AcquiredConns),
		gauge("idle_conns", "Idle connections in the pool now.", (*pgxpool.Stat).IdleConns),
		gauge("constructing_conns", "Connections being opened now.", (*pgxpool.Stat).ConstructingConns),
		gauge("total_conns", "Connections in the pool now: acquired, idle and being opened.", (*pgxpool.Stat).TotalConns),
		gauge("max_conns", "Most connections the pool opens (pool_max_conns).", (*pgxpool.Stat).MaxConns),
		counter("acquire_count_total", "Connections acquired from the pool.", (*pgxpool.Stat).AcquireCount),
		seconds("acquire_duration_seconds_total", "Time spent acquiring connections, in seconds.",
			func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
		counter("empty_acquire_count_total", "Acquires that had to wait for a connection (none was idle).", (*pgxpool.Stat).EmptyAcquireCount),
		seconds("empty_acquire_wait_seconds_total", "Time acquires spent waiting because none was idle, in seconds.",
			func(s *pgxpool.Stat) float64 { return s.EmptyAcquireWaitTime().Seconds() }),
		counter("canceled_acquire_count_total", "Acquires given up because their context ended.", (*pgxpool.Stat).CanceledAcquireCount),
		counter("new_conns_total", "Connections opened.", (*pgxpool.Stat).NewConnsCount),
		counter("max_lifetime_destroy_count_total", "Connections closed for reaching pool_max_conn_lifetime.", (*pgxpool.Stat).MaxLifetimeDestroyCount),
		counter("max_idle_destroy_count_total", "Connections closed for idling past pool_max_conn_idle_time.", (*pgxpool.Stat).MaxIdleDestroyCount),
	}
}

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "pool", name), help, nil, nil)
}

// Describe sends the descriptors of every pool metric.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// Collect reads the pool's statistics once and sends them.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	if c.pool == nil {
		return
	}
	st := c.pool.Stat()
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(st))
	}
}
