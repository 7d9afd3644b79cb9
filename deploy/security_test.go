package deploy_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/loadsvc/loadsvc/internal/auth"
	"github.com/loadsvc/loadsvc/internal/testenv"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// tokenFile follows LOADSVC_AUTH_TOKENS_FILE to the Secret it is mounted
// from and returns that file's content, checking that the kubelet can
// update it (no subPath) and the service's user can read it.
func tokenFile(t *testing.T, b *base) string {
	t.Helper()
	c := container(t, b.deploy)
	e := env(c, "LOADSVC_AUTH_TOKENS_FILE")
	if e == nil || e.Value == "" {
		t.Fatal("LOADSVC_AUTH_TOKENS_FILE unset: every pod could write every table")
	}
	dir, key := path.Split(e.Value)
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if path.Clean(c.VolumeMounts[i].MountPath) == path.Clean(dir) {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil || !mount.ReadOnly || mount.SubPath != "" {
		t.Fatalf("%s is on no read-only volume mount without subPath (a subPath never sees the Secret's updates): %+v", e.Value, mount)
	}
	sec := secretVolume(t, b, mount.Name)
	checkReadable(t, b, sec)
	data, ok := b.secrets[sec.SecretName].StringData[key]
	if !ok {
		t.Fatalf("the Secret %s has no key %q for %s", sec.SecretName, key, e.Value)
	}
	return data
}

// secretVolume is the pod's Secret volume name, from a Secret of the base.
func secretVolume(t *testing.T, b *base, name string) *corev1.SecretVolumeSource {
	t.Helper()
	for _, v := range b.deploy.Spec.Template.Spec.Volumes {
		if v.Name == name && v.Secret != nil {
			if _, ok := b.secrets[v.Secret.SecretName]; !ok || len(v.Secret.Items) > 0 {
				t.Fatalf("volume %s: Secret %s not in the base, or mapped by items", name, v.Secret.SecretName)
			}
			return v.Secret
		}
	}
	t.Fatalf("no Secret volume %s", name)
	return nil
}

// checkReadable fails unless the image's user (65532) can read the
// volume's files, and no one else.
func checkReadable(t *testing.T, b *base, sec *corev1.SecretVolumeSource) {
	t.Helper()
	pod := b.deploy.Spec.Template.Spec.SecurityContext
	if sec.DefaultMode == nil || *sec.DefaultMode&0o007 != 0 {
		t.Errorf("token volume defaultMode %v; want no access for others", sec.DefaultMode)
		return
	}
	if *sec.DefaultMode&0o040 == 0 || pod.FSGroup == nil || *pod.FSGroup != nonroot {
		t.Errorf("token volume mode %#o, fsGroup %v: uid %d cannot read the tokens", *sec.DefaultMode, pod.FSGroup, nonroot)
	}
}

// Issue 10 #8: the base ships tokens from a Secret, which parse as the
// service parses them, and a table allowlist; it never turns
// authentication off.
func TestTokensAndAllowlistShipped(t *testing.T) {
	t.Parallel()
	b := readBase(t)
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(tokenFile(t, b)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewAuthenticator(file, nil); err != nil {
		t.Errorf("the example token file: %v", err)
	}
	c := container(t, b.deploy)
	allow := env(c, "LOADSVC_ALLOW_TABLES")
	if allow == nil || allow.Value == "" {
		t.Fatal("LOADSVC_ALLOW_TABLES unset: a token could write every table")
	}
	if _, err := auth.NewPolicy(allow.Value); err != nil {
		t.Errorf("LOADSVC_ALLOW_TABLES: %v", err)
	}
	if e := env(c, "LOADSVC_ALLOW_UNAUTHENTICATED"); e != nil {
		t.Errorf("the base sets LOADSVC_ALLOW_UNAUTHENTICATED=%q", e.Value)
	}
}

// Issue 10 #8: a NetworkPolicy selects the pods and lets in only labelled
// clients on the gRPC port — no rule admits every source.
func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	b := readBase(t)
	np := b.netpol.Spec
	sel, err := metav1.LabelSelectorAsSelector(&np.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(b.deploy.Spec.Template.Labels)) {
		t.Errorf("the NetworkPolicy selects %v, not the pods", np.PodSelector)
	}
	if len(np.PolicyTypes) == 0 || np.PolicyTypes[0] != "Ingress" {
		t.Errorf("policyTypes %v; want Ingress", np.PolicyTypes)
	}
	grpcCovered := false
	for i, rule := range np.Ingress {
		if len(rule.From) == 0 || len(rule.Ports) == 0 {
			t.Errorf("ingress rule %d admits every source or every port", i)
		}
		for _, peer := range rule.From {
			if peer.IPBlock == nil && (peer.PodSelector == nil || len(peer.PodSelector.MatchLabels)+len(peer.PodSelector.MatchExpressions) == 0) &&
				(peer.NamespaceSelector == nil || len(peer.NamespaceSelector.MatchLabels)+len(peer.NamespaceSelector.MatchExpressions) == 0) {
				t.Errorf("ingress rule %d: peer %+v selects every pod", i, peer)
			}
		}
		for _, p := range rule.Ports {
			if p.Port != nil && (p.Port.String() == "grpc" || p.Port.IntValue() == int(port(t, container(t, b.deploy), "grpc"))) {
				grpcCovered = true
			}
		}
	}
	if !grpcCovered {
		t.Error("no ingress rule admits the gRPC port: no client could load")
	}
}

// The image's entrypoint (every interface) with no tokens and no client
// certificates refuses to start, naming the remedies.
func TestImageRefusesOpenListenerWithoutAuth(t *testing.T) {
	t.Parallel()
	listen, _ := allInterfaces(t)
	cmd := exec.Command(binary, "--listen", listen)
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started without authentication:\n%s", out)
	}
	for _, remedy := range []string{"LOADSVC_AUTH_TOKENS_FILE", "LOADSVC_TLS_CLIENT_CA", "LOADSVC_ALLOW_UNAUTHENTICATED=true"} {
		if !strings.Contains(string(out), remedy) {
			t.Errorf("the refusal does not name %s:\n%s", remedy, out)
		}
	}
}

// allInterfaces is a listen address on every interface with a free port,
// and the loopback address that reaches it.
func allInterfaces(t *testing.T) (listen, addr string) {
	t.Helper()
	_, p, err := net.SplitHostPort(testenv.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("0.0.0.0", p), net.JoinHostPort("127.0.0.1", p)
}

// deploymentEnv is the container's environment as the kubelet would give
// it, minus values from Secrets (no database here), with the token file at
// tokens and the metrics on a free loopback port.
func deploymentEnv(t *testing.T, b *base, tokens string) []string {
	t.Helper()
	var out []string
	for _, e := range container(t, b.deploy).Env {
		switch {
		case e.ValueFrom != nil:
		case e.Name == "LOADSVC_AUTH_TOKENS_FILE":
			out = append(out, e.Name+"="+tokens)
		case e.Name == "LOADSVC_METRICS_LISTEN":
			out = append(out, e.Name+"="+testenv.FreeAddr(t))
		default:
			out = append(out, e.Name+"="+e.Value)
		}
	}
	return out
}

// The binary, run as the image runs it with the Deployment's environment
// and its example token Secret, starts on every interface, warns that the
// tokens travel in plaintext, refuses a call without a token and lets the
// example token plan a load of its own tables only.
func TestBaseServesWithItsTokens(t *testing.T) {
	t.Parallel()
	b := readBase(t)
	content := tokenFile(t, b)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	listen, addr := allInterfaces(t)
	cmd := exec.Command(binary, "--listen", listen)
	cmd.Env = deploymentEnv(t, b, tokens)
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	checkHealth(t, addr, out)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	plan(t, conn, "", "business", codes.Unauthenticated)
	token := strings.Fields(significantLine(t, content))[0]
	plan(t, conn, token, "business", codes.OK)
	plan(t, conn, token, "public", codes.PermissionDenied)
	if !strings.Contains(out.String(), "bearer tokens travel in plaintext") {
		t.Errorf("no warning about tokens in plaintext:\n%s", out)
	}
}

// significantLine is the first line of a token file that holds a token.
func significantLine(t *testing.T, content string) string {
	t.Helper()
	for line := range strings.SplitSeq(content, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	t.Fatal("the token file holds no token")
	return ""
}

// plan asks for a plan of schema.t with token and checks the code.
func plan(t *testing.T, conn *grpc.ClientConn, token, schema string, want codes.Code) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	row, err := structpb.NewStruct(map[string]any{"id": 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = loadsvcv1.NewLoadServiceClient(conn).Load(ctx, &loadsvcv1.LoadRequest{
		Config: &loadsvcv1.LoadConfig{Schema: schema, Table: "t", Mode: loadsvcv1.Mode_MODE_APPEND, PlanOnly: true},
		Rows:   []*structpb.Struct{row}})
	if status.Code(err) != want {
		t.Errorf("plan of %s.t with a %d-byte token: %v, want %v", schema, len(token), err, want)
	}
}
