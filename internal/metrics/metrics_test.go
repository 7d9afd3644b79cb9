package metrics_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadsvc/loadsvc/internal/metrics"
	"github.com/loadsvc/loadsvc/internal/server"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// rowSecret is a row value that must never reach a metric.
const rowSecret = "row-value-7f3a9c"

// TestMetricsFollowLoads scrapes /metrics over HTTP before and after a load
// that succeeds and one that fails, as Prometheus would.
func TestMetricsFollowLoads(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	admin := testenv.NewPool(t, url, 4)
	if _, err := admin.Exec(context.Background(), `CREATE TABLE nav (id int PRIMARY KEY, v text)`); err != nil {
		t.Fatal(err)
	}
	pool := testenv.NewPool(t, url, 4)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, pool)
	client := serveGRPC(t, m, pool)
	scrapeURL := serveMetrics(t, reg)

	before := get(t, scrapeURL)
	req := &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "nav", Mode: loadsvcv1.Mode_MODE_APPEND},
		Rows:   rows(t, map[string]any{"id": 1, "v": rowSecret}, map[string]any{"id": 2}, map[string]any{"id": 3}),
	}
	if _, err := client.Load(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	ok := get(t, scrapeURL)
	_, err := client.Load(context.Background(), req)
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second load: %v, want AlreadyExists", err)
	}
	failed := get(t, scrapeURL)

	checkLoadCounters(t, before, ok, failed)
	checkPoolAndGRPC(t, before, ok, failed)
	checkNoSecrets(t, failed, cluster.Password(), rowSecret)
}

func checkLoadCounters(t *testing.T, before, ok, failed scrape) {
	t.Helper()
	nav := map[string]string{"method": "Load", "mode": "append", "table": "nav"}
	with := func(k, v string) map[string]string {
		out := map[string]string{k: v}
		for k, v := range nav {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		name       string
		s          scrape
		labels     map[string]string
		want       float64
		comparison string
	}{
		{"loadsvc_loads_total", before, with("code", "OK"), 0, "before"},
		{"loadsvc_loads_total", ok, with("code", "OK"), 1, "after the load"},
		{"loadsvc_loads_total", failed, with("code", "OK"), 1, "after the failed load"},
		{"loadsvc_loads_total", failed, with("code", "AlreadyExists"), 1, "after the failed load"},
		{"loadsvc_loads_total", failed, with("plan_only", "false"), 2, "after both"},
		{"loadsvc_rows_total", before, nav, 0, "before"},
		{"loadsvc_rows_total", ok, nav, 3, "after the load"},
		{"loadsvc_rows_total", failed, nav, 3, "after the failed load (it loaded nothing)"},
		{"loadsvc_load_duration_seconds", before, map[string]string{"method": "Load", "mode": "append"}, 0, "before"},
		{"loadsvc_load_duration_seconds", ok, map[string]string{"method": "Load", "mode": "append"}, 1, "after the load"},
		{"loadsvc_load_duration_seconds", failed, map[string]string{"method": "Load", "mode": "append"}, 2, "after both"},
		{"loadsvc_inflight_loads", failed, map[string]string{"method": "Load"}, 0, "after both"},
	} {
		if got := c.s.value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v %s = %v, want %v", c.name, c.labels, c.comparison, got, c.want)
		}
	}
	if b := ok.value("loadsvc_bytes_total", nav); b <= 0 || failed.value("loadsvc_bytes_total", nav) != b {
		t.Errorf("loadsvc_bytes_total = %v after the load, %v after the failed one; want > 0 and unchanged",
			b, failed.value("loadsvc_bytes_total", nav))
	}
}

func checkPoolAndGRPC(t *testing.T, before, ok, failed scrape) {
	t.Helper()
	acq := "loadsvc_pool_acquire_count_total"
	if !(before.value(acq, nil) < ok.value(acq, nil) && ok.value(acq, nil) < failed.value(acq, nil)) {
		t.Errorf("%s went %v, %v, %v; want it to grow with each load", acq,
			before.value(acq, nil), ok.value(acq, nil), failed.value(acq, nil))
	}
	if got := failed.value("loadsvc_pool_max_conns", nil); got != 4 {
		t.Errorf("loadsvc_pool_max_conns = %v, want 4", got)
	}
	if got := failed.value("loadsvc_pool_new_conns_total", nil); got < 1 {
		t.Errorf("loadsvc_pool_new_conns_total = %v, want ≥ 1", got)
	}
	handled := "grpc_server_handled_total"
	load := map[string]string{"grpc_service": "loadsvc.v1.LoadService", "grpc_method": "Load"}
	if _, ok := before.fams[handled]; !ok {
		t.Errorf("%s missing before the first call (InitializeMetrics)", handled)
	}
	for code, want := range map[string]float64{"OK": 1, "AlreadyExists": 1} {
		load["grpc_code"] = code
		if got := failed.value(handled, load); got != want {
			t.Errorf("%s%v = %v, want %v", handled, load, got, want)
		}
	}
	if got := failed.value("grpc_server_handling_seconds", map[string]string{"grpc_method": "Load"}); got != 2 {
		t.Errorf("grpc_server_handling_seconds count = %v, want 2", got)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := failed.fams[name]; !ok {
			t.Errorf("%s missing: the runtime and process collectors are not registered", name)
		}
	}
}

// checkNoSecrets fails when the database password or a row value shows
// anywhere in a scrape, label or not.
func checkNoSecrets(t *testing.T, s scrape, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if secret == "" {
			t.Fatal("empty secret")
		}
		for _, v := range s.labelValues() {
			if strings.Contains(v, secret) {
				t.Errorf("label value %q holds a secret", v)
			}
		}
		if strings.Contains(s.body, secret) {
			t.Errorf("the scrape holds the secret %q", secret)
		}
	}
}

// TestPlanWithoutDatabase: with no pool there are no pool metrics, and a
// plan counts with plan_only="true" and in nothing else.
func TestPlanWithoutDatabase(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, nil)
	client := serveGRPC(t, m, nil)
	scrapeURL := serveMetrics(t, reg)
	_, err := client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Table: "nav", Pk: []string{"id"}, PlanOnly: true},
		Rows:   rows(t, map[string]any{"id": 1, "v": rowSecret}),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := get(t, scrapeURL)
	plan := map[string]string{"method": "Load", "mode": "delete_insert", "table": "(plan)", "code": "OK", "plan_only": "true"}
	if got := s.value("loadsvc_loads_total", plan); got != 1 {
		t.Errorf("loadsvc_loads_total%v = %v, want 1", plan, got)
	}
	for _, name := range []string{"loadsvc_rows_total", "loadsvc_bytes_total", "loadsvc_load_duration_seconds", "loadsvc_pool_acquire_count_total"} {
		if _, ok := s.fams[name]; ok {
			t.Errorf("%s present after a plan alone without a database", name)
		}
	}
	checkNoSecrets(t, s, rowSecret)
}

// TestTableLabelBounded: client-chosen table names cannot grow the series
// without bound, nor put control characters in a label.
func TestTableLabelBounded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, nil)
	finish := func(mode, table string) {
		m.LoadStarted("Load")
		m.LoadFinished("Load", server.Outcome{Mode: mode, Table: table, Code: codes.OK, Admitted: true, Resolved: true})
	}
	for i := range metrics.MaxTables + 10 {
		finish("append", "t"+strings.Repeat("x", i%50)+string(rune('a'+i/50)))
	}
	finish("append", "bad\x00name")
	finish("append", strings.Repeat("long", 40))
	finish("append", "")
	finish("Mode(99)", "ta") // a table counted already
	// Refused requests take no slot, whatever name they bring; nor do
	// tables the catalog did not find, nor plans, which never ask it.
	for i := range 5 {
		m.LoadStarted("Load")
		m.LoadFinished("Load", server.Outcome{Mode: "append", Table: "junk" + strings.Repeat("j", i), Code: codes.PermissionDenied})
		m.LoadStarted("Load")
		m.LoadFinished("Load", server.Outcome{Mode: "append", Table: "missing" + strings.Repeat("m", i), Code: codes.NotFound, Admitted: true})
		m.LoadStarted("Load")
		m.LoadFinished("Load", server.Outcome{Mode: "append", Table: "planned" + strings.Repeat("p", i), Code: codes.OK, Admitted: true, PlanOnly: true})
	}
	s := gathered(t, reg)
	tables := map[string]float64{}
	for _, mt := range s.fams["loadsvc_loads_total"].GetMetric() {
		for _, lp := range mt.GetLabel() {
			if lp.GetName() == "table" {
				tables[lp.GetValue()] += mt.GetCounter().GetValue()
			}
		}
	}
	if len(tables) != metrics.MaxTables+6 || tables["(other)"] != 10 || tables["(invalid)"] != 2 || tables["(none)"] != 1 || tables["(refused)"] != 5 ||
		tables["(unresolved)"] != 5 || tables["(plan)"] != 5 {
		t.Errorf("%d table label values, (other) %v, (invalid) %v, (none) %v, (refused) %v, (unresolved) %v, (plan) %v; want %d, 10, 2, 1, 5, 5, 5",
			len(tables), tables["(other)"], tables["(invalid)"], tables["(none)"], tables["(refused)"], tables["(unresolved)"], tables["(plan)"], metrics.MaxTables+6)
	}
	if got := s.value("loadsvc_loads_total", map[string]string{"mode": "unknown"}); got != 1 {
		t.Errorf("mode=unknown counted %v, want 1", got)
	}
}

// TestNewOnRegistryWithRuntime: a registry that has the runtime and process
// collectors already (like the default one) keeps them, and New does not
// panic.
func TestNewOnRegistryWithRuntime(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics.New(reg, nil)
	if got := gathered(t, reg).value("go_goroutines", nil); got <= 0 {
		t.Errorf("go_goroutines = %v", got)
	}
}

// Through a real server: requests refused at admission — here for table
// names that cannot be tables and for the ledger — count under "(refused)"
// and take no table label slot, however many junk names they bring.
func TestRefusedRequestsTakeNoTableLabel(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, nil)
	client := serveGRPC(t, m, nil)
	for i := range 20 {
		_, err := client.Load(context.Background(), &loadsvcv1.LoadRequest{
			Config: &loadsvcv1.LoadConfig{Table: "junk" + strings.Repeat("x", 60+i), Mode: loadsvcv1.Mode_MODE_APPEND},
			Rows:   rows(t, map[string]any{"id": 1})})
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("junk name: %v", err)
		}
	}
	_, err := client.Load(context.Background(), &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Schema: "loadsvc", Table: "load_ledger", Mode: loadsvcv1.Mode_MODE_REPLACE},
		Rows:   rows(t, map[string]any{"request_id": "forged"})})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("ledger: %v", err)
	}
	s := get(t, serveMetrics(t, reg))
	tables := map[string]float64{}
	for _, mt := range s.fams["loadsvc_loads_total"].GetMetric() {
		for _, lp := range mt.GetLabel() {
			if lp.GetName() == "table" {
				tables[lp.GetValue()] += mt.GetCounter().GetValue()
			}
		}
	}
	if len(tables) != 1 || tables["(refused)"] != 21 {
		t.Errorf("table labels %v, want only (refused) = 21", tables)
	}
}
