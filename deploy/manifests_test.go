package deploy_test

import (
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const baseDir = "k8s/base"

// kustomization is the part of kustomize's Kustomization the base uses.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Labels     []struct {
		Pairs map[string]string `json:"pairs"`
	} `json:"labels"`
	Images []kustImage `json:"images"`
}

// kustImage is one image override of a kustomization.
type kustImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
}

// base is every object of deploy/k8s/base, decoded strictly into the
// Kubernetes API types (an unknown or misspelt field fails).
type base struct {
	kust     kustomization
	deploy   *appsv1.Deployment
	services []*corev1.Service
	secrets  map[string]*corev1.Secret
	netpol   *networkingv1.NetworkPolicy
	pdb      *policyv1.PodDisruptionBudget
	hpa      *autoscalingv2.HorizontalPodAutoscaler
}

func readBase(t *testing.T) *base {
	t.Helper()
	b := &base{secrets: map[string]*corev1.Secret{}}
	if err := decodeFile(filepath.Join(baseDir, "kustomization.yaml"), &b.kust); err != nil {
		t.Fatal(err)
	}
	for _, res := range b.kust.Resources {
		docs, err := splitDocs(filepath.Join(baseDir, res))
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docs {
			if err := b.add(doc); err != nil {
				t.Fatalf("%s, document %d: %v", res, i+1, err)
			}
		}
	}
	if b.deploy == nil || len(b.services) == 0 || len(b.secrets) == 0 || b.netpol == nil || b.pdb == nil || b.hpa == nil {
		t.Fatalf("the base lacks one of Deployment, Service, Secret, NetworkPolicy, PodDisruptionBudget, HorizontalPodAutoscaler")
	}
	return b
}

// add decodes one document by its kind.
func (b *base) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		b.deploy = &appsv1.Deployment{}
		obj = b.deploy
	case "v1 Service":
		s := &corev1.Service{}
		b.services, obj = append(b.services, s), s
	case "v1 Secret":
		sec := &corev1.Secret{}
		if err := yaml.UnmarshalStrict(doc, sec); err != nil {
			return err
		}
		b.secrets[sec.Name] = sec
		return nil
	case "networking.k8s.io/v1 NetworkPolicy":
		b.netpol = &networkingv1.NetworkPolicy{}
		obj = b.netpol
	case "policy/v1 PodDisruptionBudget":
		b.pdb = &policyv1.PodDisruptionBudget{}
		obj = b.pdb
	case "autoscaling/v2 HorizontalPodAutoscaler":
		b.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
		obj = b.hpa
	default:
		return fmt.Errorf("unexpected %s %s", tm.APIVersion, tm.Kind)
	}
	return yaml.UnmarshalStrict(doc, obj)
}

func decodeFile(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// splitDocs splits a YAML file into its documents.
func splitDocs(path string) ([][]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	for doc := range strings.SplitSeq("\n"+string(raw), "\n---") {
		if strings.TrimSpace(stripComments(doc)) != "" {
			docs = append(docs, []byte(doc))
		}
	}
	return docs, nil
}

func stripComments(doc string) string {
	var out []string
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestKustomizationListsEveryManifest: every YAML of the base is a
// resource of the kustomization and the other way round.
func TestKustomizationListsEveryManifest(t *testing.T) {
	t.Parallel()
	b := readBase(t)
	if b.kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || b.kust.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", b.kust.APIVersion, b.kust.Kind)
	}
	files, err := filepath.Glob(filepath.Join(baseDir, "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, f := range files {
		if name := filepath.Base(f); name != "kustomization.yaml" {
			onDisk = append(onDisk, name)
		}
	}
	listed := slices.Sorted(slices.Values(b.kust.Resources))
	if !slices.Equal(listed, onDisk) {
		t.Errorf("kustomization resources %v, files %v", listed, onDisk)
	}
	c := container(t, b.deploy)
	if !slices.ContainsFunc(b.kust.Images, func(i kustImage) bool { return i.Name == c.Image }) {
		t.Errorf("the kustomization sets no image for %q", c.Image)
	}
}

// container is the Deployment's one container.
func container(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	return &d.Spec.Template.Spec.Containers[0]
}

// port is the container port named name.
func port(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container has no port %q", name)
	return 0
}

// env is the container's variable name, nil if unset.
func env(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// TestDeploymentProbes: readiness and liveness are gRPC health probes of
// the overall service "" on the gRPC container port, which LOADSVC_LISTEN
// and the image's --listen serve.
func TestDeploymentProbes(t *testing.T) {
	t.Parallel()
	b := readBase(t)
	c := container(t, b.deploy)
	grpcPort := port(t, c, "grpc")
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.GRPC == nil {
			t.Errorf("%s probe is not a gRPC probe: %+v", name, p)
			continue
		}
		if p.GRPC.Port != grpcPort {
			t.Errorf("%s probe on port %d, the gRPC port is %d", name, p.GRPC.Port, grpcPort)
		}
		if p.GRPC.Service != nil && *p.GRPC.Service != "" {
			t.Errorf("%s probe asks %q; want \"\" (loadsvc.v1.LoadService follows the database)", name, *p.GRPC.Service)
		}
	}
	for name, want := range map[string]int32{"LOADSVC_LISTEN": grpcPort, "LOADSVC_METRICS_LISTEN": port(t, c, "metrics")} {
		if got := listenPort(t, env(c, name)); got != want {
			t.Errorf("%s port %d, container port %d", name, got, want)
		}
	}
	ann := b.deploy.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(int(port(t, c, "metrics"))) ||
		ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v do not point at the metrics port's /metrics", ann)
	}
}

func listenPort(t *testing.T, e *corev1.EnvVar) int32 {
	t.Helper()
	if e == nil {
		t.Fatal("listen variable unset")
	}
	_, p, err := net.SplitHostPort(e.Value)
	if err != nil {
		t.Fatalf("%s=%q: %v", e.Name, e.Value, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// TestDeploymentShutdown: the kubelet waits longer than the preStop sleep
// plus the service's own shutdown timeout before it kills.
func TestDeploymentShutdown(t *testing.T) {
	t.Parallel()
	b := readBase(t)
	c := container(t, b.deploy)
	e := env(c, "LOADSVC_SHUTDOWN_TIMEOUT")
	if e == nil {
		t.Fatal("LOADSVC_SHUTDOWN_TIMEOUT unset")
	}
	shutdown, err := time.ParseDuration(e.Value)
	if err != nil {
		t.Fatal(err)
	}
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	grace := b.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatal("terminationGracePeriodSeconds unset")
	}
	if time.Duration(*grace)*time.Second <= preStop+shutdown {
		t.Errorf("terminationGracePeriodSeconds %d, want more than preStop %v + shutdown timeout %v", *grace, preStop, shutdown)
	}
}

// TestDeploymentSecurity: non-root as the image's user, read-only root,
// no privileges, resources bounded.
func TestDeploymentSecurity(t *testing.T) {
	t.Parallel()
	b := readBase(t)
	pod := b.deploy.Spec.Template.Spec.SecurityContext
	if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || pod.RunAsUser == nil || *pod.RunAsUser != nonroot {
		t.Errorf("pod securityContext %+v; want runAsNonRoot and runAsUser %d", pod, nonroot)
	}
	c := container(t, b.deploy)
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v; want readOnlyRootFilesystem, no privilege escalation, drop ALL", sc)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
		if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s request %v, limit %v; want both, request ≤ limit", r, req.String(), lim.String())
		}
	}
}

// TestDatabaseSecret: the database URL comes from the Secret, which holds
// a URL pgx accepts with the pool bounded, and replicas × pool stay within
// a default PostgreSQL's max_connections (100, 3 reserved).
func TestDatabaseSecret(t *testing.T) {
	t.Parallel()
	b := readBase(t)
	e := env(container(t, b.deploy), "LOADSVC_DATABASE_URL")
	if e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Fatalf("LOADSVC_DATABASE_URL %+v; want it from a Secret", e)
	}
	ref := e.ValueFrom.SecretKeyRef
	sec, ok := b.secrets[ref.Name]
	if !ok {
		t.Fatalf("LOADSVC_DATABASE_URL from the Secret %s, which the base lacks", ref.Name)
	}
	url, ok := sec.StringData[ref.Key]
	if !ok {
		t.Fatalf("LOADSVC_DATABASE_URL from %s/%s; the Secret has keys %v", ref.Name, ref.Key, keys(sec.StringData))
	}
	if !strings.Contains(url, "pool_max_conns=") {
		t.Errorf("the example URL sets no pool_max_conns")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("the example URL: %v", err)
	}
	pods := b.hpa.Spec.MaxReplicas + int32(b.deploy.Spec.Strategy.RollingUpdate.MaxSurge.IntValue())
	if conns := pods * cfg.MaxConns; conns > 100-3 {
		t.Errorf("(maxReplicas + maxSurge) × pool_max_conns = %d × %d = %d, more than a default PostgreSQL allows", pods, cfg.MaxConns, conns)
	}
}

func keys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// TestSelectorsMatch: the Deployment, Services, PDB and HPA all reach the
// Deployment's pods, and the Services' ports are the container's.
func TestSelectorsMatch(t *testing.T) {
	t.Parallel()
	b := readBase(t)
	pods := labels.Set(b.deploy.Spec.Template.Labels)
	sel := func(s *metav1.LabelSelector) labels.Selector {
		ls, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	if !sel(b.deploy.Spec.Selector).Matches(pods) || !sel(b.pdb.Spec.Selector).Matches(pods) {
		t.Error("the Deployment's or the PDB's selector misses the pods")
	}
	c := container(t, b.deploy)
	for _, s := range b.services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(pods) {
			t.Errorf("Service %s selects %v, the pods are %v", s.Name, s.Spec.Selector, pods)
		}
		for _, p := range s.Spec.Ports {
			port(t, c, p.TargetPort.String())
		}
	}
	ref := b.hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != b.deploy.Name {
		t.Errorf("the HPA scales %s %s", ref.Kind, ref.Name)
	}
	if least := b.hpa.Spec.MinReplicas; least == nil || *least < 2 || b.pdb.Spec.MaxUnavailable == nil {
		t.Errorf("minReplicas %v, PDB maxUnavailable %v; want ≥ 2 replicas and a PDB that lets a drain go on", least, b.pdb.Spec.MaxUnavailable)
	}
}
