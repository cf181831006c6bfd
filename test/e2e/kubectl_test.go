package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

// kubectlEnv runs the machine's real kubectl against one apiserver.
type kubectlEnv struct {
	t          *testing.T
	bin        string
	kubeconfig string
	client     kubernetes.Interface
}

func newKubectlEnv(t *testing.T) *kubectlEnv {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed (not on PATH); skipping the kubectl end-to-end test")
	}
	args, url := apiserverArgs(t, t.TempDir())
	p := start(t, binary("shepherd-apiserver"), args...)
	client := waitReady(t, p, url)
	kc := apiservertest.Kubeconfig(t, url)
	return &kubectlEnv{t: t, bin: bin, kubeconfig: kc, client: client}
}

// run runs kubectl and returns stdout, stderr and the exit code.
func (k *kubectlEnv) run(args ...string) (string, string, int) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig, "HOME="+filepath.Dir(k.kubeconfig))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		k.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// ok runs kubectl, fails the test unless it exits 0, and returns stdout.
func (k *kubectlEnv) ok(args ...string) string {
	k.t.Helper()
	out, errOut, code := k.run(args...)
	if code != 0 {
		k.t.Fatalf("kubectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fails runs kubectl, fails the test unless it exits non-zero, and returns
// stderr.
func (k *kubectlEnv) fails(args ...string) string {
	k.t.Helper()
	out, errOut, code := k.run(args...)
	if code == 0 {
		k.t.Fatalf("kubectl %s succeeded, want a failure\nstdout: %s", strings.Join(args, " "), out)
	}
	return errOut
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: want %q in:\n%s", what, w, got)
		}
	}
}

// header returns the first line of a table, with runs of spaces squeezed.
func header(out string) string {
	line, _, _ := strings.Cut(out, "\n")
	return regexp.MustCompile(` +`).ReplaceAllString(strings.TrimSpace(line), " ")
}

func TestKubectl(t *testing.T) {
	k := newKubectlEnv(t)
	td := func(name string) string { return filepath.Join("testdata", name) }

	t.Run("version and discovery", func(t *testing.T) {
		contains(t, "version", k.ok("version"), "Server Version: v1.32.0-shepherd")
		resources := k.ok("api-resources")
		for _, row := range []string{"pods", "po", "deployments", "deploy", "replicasets", "rs", "services", "svc", "endpoints", "ep", "nodes", "no", "namespaces", "ns", "configmaps", "cm", "events", "ev", "secrets", "leases"} {
			contains(t, "api-resources", resources, row)
		}
		contains(t, "api-versions", k.ok("api-versions"), "apps/v1", "coordination.k8s.io/v1", "v1")
		contains(t, "cluster-info", k.ok("cluster-info"), "Kubernetes control plane is running at")
	})

	t.Run("apply the documentation examples", func(t *testing.T) {
		contains(t, "apply", k.ok("apply", "-f", td("nginx-deployment.yaml")), "deployment.apps/nginx-deployment created", "service/my-service created")
		contains(t, "apply", k.ok("apply", "-f", td("configmap-secret.yaml")), "configmap/game-demo created", "secret/dotfile-secret created")
		// Re-applying unchanged changes nothing; a changed file is patched.
		contains(t, "re-apply", k.ok("apply", "-f", td("nginx-deployment.yaml")), "deployment.apps/nginx-deployment unchanged", "service/my-service unchanged")
		changed := filepath.Join(t.TempDir(), "nginx.yaml")
		data, _ := os.ReadFile(td("nginx-deployment.yaml"))
		os.WriteFile(changed, bytes.Replace(data, []byte("replicas: 3"), []byte("replicas: 5"), 1), 0o644)
		contains(t, "changed apply", k.ok("apply", "-f", changed), "deployment.apps/nginx-deployment configured")
		if got := k.ok("get", "deploy", "nginx-deployment", "-o", "jsonpath={.spec.replicas}"); got != "5" {
			t.Fatalf("replicas after re-apply: %s", got)
		}
		contains(t, "last-applied", k.ok("get", "deploy", "nginx-deployment", "-o", "yaml"), "kubectl.kubernetes.io/last-applied-configuration")
		// Server-side apply takes over, then conflicts are Kubernetes'.
		contains(t, "server-side apply", k.ok("apply", "--server-side", "-f", changed), "deployment.apps/nginx-deployment serverside-applied")
		other := filepath.Join(t.TempDir(), "nginx7.yaml")
		os.WriteFile(other, bytes.Replace(data, []byte("replicas: 3"), []byte("replicas: 7"), 1), 0o644)
		contains(t, "conflicting apply", k.fails("apply", "--server-side", "--field-manager=other", "-f", other),
			`Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas`)
		k.ok("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", other)
		if got := k.ok("get", "deploy", "nginx-deployment", "-o", "jsonpath={.spec.replicas}"); got != "7" {
			t.Fatalf("replicas after a forced apply: %s", got)
		}
		contains(t, "managed fields", k.ok("get", "deploy", "nginx-deployment", "-o", "yaml", "--show-managed-fields"), "manager: other", "operation: Apply")
		// Strict validation (kubectl's default) names the unknown field.
		contains(t, "unknown field", k.fails("apply", "-f", td("unknown-field.yaml")), `unknown field "dataa"`)
		contains(t, "unknown field ssa", k.fails("apply", "--server-side", "-f", td("unknown-field.yaml")), `unknown field "dataa"`)
		// Server-side dry run changes nothing.
		k.ok("apply", "--dry-run=server", "-f", changed)
		if got := k.ok("get", "deploy", "nginx-deployment", "-o", "jsonpath={.spec.replicas}"); got != "7" {
			t.Fatalf("a server dry run changed replicas to %s", got)
		}
	})

	t.Run("get", func(t *testing.T) {
		k.ok("apply", "-f", td("node.yaml"))
		k.ok("run", "web", "--image=nginx:1.25", "--labels=app=web,tier=frontend")
		if _, err := k.client.CoreV1().Pods("default").Get(context.Background(), "web", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Target: corev1.ObjectReference{Kind: "Node", Name: "lab-node-1"}}
		if err := k.client.CoreV1().Pods("default").Bind(context.Background(), bind, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cases := []struct{ args, header string }{
			{"get po", "NAME READY STATUS RESTARTS AGE"},
			{"get pods -o wide", "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"},
			{"get deploy", "NAME READY UP-TO-DATE AVAILABLE AGE"},
			{"get deploy -o wide", "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR"},
			{"get no", "NAME STATUS ROLES AGE VERSION"},
			{"get svc", "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE"},
			{"get ns", "NAME STATUS AGE"},
			{"get cm", "NAME DATA AGE"},
			{"get secrets", "NAME TYPE DATA AGE"},
			{"get rs", "No resources found"},
			{"get ep", "No resources found"},
			{"get ev", "LAST SEEN TYPE REASON OBJECT MESSAGE"},
			{"get leases -A", "No resources found"},
		}
		for _, c := range cases {
			out, errOut, code := k.run(strings.Fields(c.args)...)
			if code != 0 {
				t.Fatalf("kubectl %s: exit %d: %s", c.args, code, errOut)
			}
			if got := header(out + errOut); !strings.HasPrefix(got, c.header) {
				t.Errorf("kubectl %s: header %q, want %q", c.args, got, c.header)
			}
		}
		contains(t, "pod row", k.ok("get", "po", "web", "-o", "wide"), "web", "0/1", "Pending", "lab-node-1")
		contains(t, "node row", k.ok("get", "no"), "lab-node-1", "Ready", "worker", "v1.32.0-shepherd")
		contains(t, "service row", k.ok("get", "svc", "my-service"), "ClusterIP", "10.", "80/TCP")
		contains(t, "-A", k.ok("get", "ns", "-A"), "kube-system", "kube-node-lease")
		contains(t, "-l", k.ok("get", "po", "-l", "tier=frontend", "-o", "name"), "pod/web")
		if out := k.ok("get", "po", "-l", "tier=backend", "-o", "name"); out != "" {
			t.Fatalf("-l tier=backend listed %q", out)
		}
		contains(t, "--field-selector", k.ok("get", "po", "-A", "--field-selector", "spec.nodeName=lab-node-1", "-o", "name"), "pod/web")
		contains(t, "-o name", k.ok("get", "deploy", "-o", "name"), "deployment.apps/nginx-deployment")
		contains(t, "-o json", k.ok("get", "cm", "game-demo", "-o", "json"), `"player_initial_lives": "3"`)
		contains(t, "-o yaml", k.ok("get", "secret", "dotfile-secret", "-o", "yaml"), ".secret-file: dmFsdWUtMg0KDQo=")
		if got := k.ok("get", "po", "web", "-o", "jsonpath={.spec.nodeName}"); got != "lab-node-1" {
			t.Fatalf("jsonpath nodeName %q", got)
		}
		contains(t, "--show-labels", k.ok("get", "po", "web", "--show-labels"), "app=web,tier=frontend")
	})

	t.Run("watch", func(t *testing.T) {
		watchOut := filepath.Join(t.TempDir(), "watch")
		watchOnly := filepath.Join(t.TempDir(), "watch-only")
		background := func(file string, args ...string) *exec.Cmd {
			f, _ := os.Create(file)
			cmd := exec.Command(k.bin, args...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig, "HOME="+filepath.Dir(k.kubeconfig))
			cmd.Stdout, cmd.Stderr = f, f
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); f.Close() })
			return cmd
		}
		background(watchOut, "get", "cm", "-w")
		background(watchOnly, "get", "cm", "--watch-only", "-o", "name")
		// Wait until both watches are established (the -w one printed its list).
		deadline := time.Now().Add(20 * time.Second)
		for {
			b, _ := os.ReadFile(watchOut)
			if strings.Contains(string(b), "game-demo") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kubectl get -w printed nothing: %q", b)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		k.ok("create", "configmap", "watched", "--from-literal=a=1")
		k.ok("delete", "configmap", "watched")
		for {
			w, _ := os.ReadFile(watchOut)
			o, _ := os.ReadFile(watchOnly)
			if strings.Count(string(w), "watched") >= 2 && strings.Count(string(o), "configmap/watched") >= 2 {
				if strings.Contains(string(o), "game-demo") {
					t.Fatalf("--watch-only printed the existing objects:\n%s", o)
				}
				break
			}
			if time.Now().After(deadline.Add(10 * time.Second)) {
				t.Fatalf("watch output:\n%s\nwatch-only output:\n%s", w, o)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("create and change", func(t *testing.T) {
		contains(t, "create ns", k.ok("create", "namespace", "team-a"), "namespace/team-a created")
		contains(t, "create deployment", k.ok("create", "deployment", "hello", "--image=busybox", "-n", "team-a", "--", "sleep", "3600"), "deployment.apps/hello created")
		contains(t, "create configmap", k.ok("create", "configmap", "settings", "--from-literal=mode=lab", "-n", "team-a"), "configmap/settings created")
		contains(t, "create secret", k.ok("create", "secret", "generic", "pw", "--from-literal=password=hunter2", "-n", "team-a"), "secret/pw created")
		contains(t, "create -f", k.ok("create", "-f", td("unknown-field.yaml"), "--validate=false", "-n", "team-a"), "configmap/typo created")
		contains(t, "create existing", k.fails("create", "namespace", "team-a"), `namespaces "team-a" already exists`)
		contains(t, "label", k.ok("label", "deploy", "hello", "tier=backend", "-n", "team-a"), "deployment.apps/hello labeled")
		contains(t, "annotate", k.ok("annotate", "deploy", "hello", "owner=lab", "-n", "team-a"), "deployment.apps/hello annotated")
		contains(t, "scale", k.ok("scale", "deploy", "hello", "--replicas=4", "-n", "team-a"), "deployment.apps/hello scaled")
		k.ok("patch", "deploy", "hello", "-n", "team-a", "-p", `{"metadata":{"labels":{"strategic":"yes"}}}`)
		k.ok("patch", "deploy", "hello", "-n", "team-a", "--type=merge", "-p", `{"metadata":{"labels":{"merge":"yes"}}}`)
		k.ok("patch", "deploy", "hello", "-n", "team-a", "--type=json", "-p", `[{"op":"replace","path":"/spec/replicas","value":6}]`)
		got := k.ok("get", "deploy", "hello", "-n", "team-a", "-o", "jsonpath={.spec.replicas} {.metadata.labels.tier} {.metadata.labels.strategic} {.metadata.labels.merge} {.metadata.annotations.owner}")
		if got != "6 backend yes yes lab" {
			t.Fatalf("after label, annotate, scale and three patches: %q", got)
		}
		// replace: edit the object as kubectl edit would, and put it back.
		cm := k.ok("get", "cm", "settings", "-n", "team-a", "-o", "yaml")
		edited := filepath.Join(t.TempDir(), "settings.yaml")
		os.WriteFile(edited, []byte(strings.Replace(cm, "mode: lab", "mode: production", 1)), 0o644)
		contains(t, "replace", k.ok("replace", "-f", edited), "configmap/settings replaced")
		if got := k.ok("get", "cm", "settings", "-n", "team-a", "-o", "jsonpath={.data.mode}"); got != "production" {
			t.Fatalf("after replace: %q", got)
		}
		// The same stale file again is a conflict.
		contains(t, "stale replace", k.fails("replace", "-f", edited), "the object has been modified")
	})

	t.Run("describe explain events", func(t *testing.T) {
		contains(t, "describe pod", k.ok("describe", "pod", "web"), "Name:", "web", "Node:", "lab-node-1", "QoS Class:", "BestEffort", "Events:", "Created pod web")
		contains(t, "describe deployment", k.ok("describe", "deploy", "nginx-deployment"), "Replicas:", "7 desired", "RollingUpdateStrategy:", "25% max unavailable, 25% max surge", "Created deployment nginx-deployment")
		contains(t, "describe node", k.ok("describe", "node", "lab-node-1"), "Roles:", "worker", "InternalIP:", "192.0.2.10", "Kubelet Version:", "v1.32.0-shepherd")
		contains(t, "describe service", k.ok("describe", "svc", "my-service"), "Type:", "ClusterIP", "TargetPort:", "9376/TCP")
		contains(t, "explain", k.ok("explain", "pod.spec.containers"), "FIELD: containers <[]Container>", "A single application container", "image\t<string>", "name\t<string> -required-")
		contains(t, "explain deployment", k.ok("explain", "deployment.spec.strategy.rollingUpdate.maxSurge"), "maxSurge <IntOrString>")
		contains(t, "events", k.ok("events"), "Created", "Pod/web")
		contains(t, "events for", k.ok("events", "--for", "deployment/nginx-deployment"), "Created deployment nginx-deployment")
	})

	t.Run("wait", func(t *testing.T) {
		contains(t, "wait", k.ok("wait", "--for=condition=PodScheduled", "pod/web", "--timeout=20s"), "pod/web condition met")
		contains(t, "wait timeout", k.fails("wait", "--for=condition=Ready", "pod/web", "--timeout=1s"), "timed out")
	})

	t.Run("delete", func(t *testing.T) {
		contains(t, "delete by name", k.ok("delete", "cm", "game-demo"), `configmap "game-demo" deleted`)
		contains(t, "delete -f", k.ok("delete", "-f", td("configmap-secret.yaml"), "--ignore-not-found"), `secret "dotfile-secret" deleted`)
		k.ok("create", "cm", "l1", "--from-literal=a=1")
		k.ok("create", "cm", "l2", "--from-literal=a=1")
		k.ok("label", "cm", "l1", "l2", "group=doomed")
		out := k.ok("delete", "cm", "-l", "group=doomed")
		contains(t, "delete -l", out, `configmap "l1" deleted`, `configmap "l2" deleted`)
		contains(t, "delete --all", k.ok("delete", "cm", "--all", "-n", "team-a"), `configmap "settings" deleted`, `configmap "typo" deleted`)
		// A bound pod is deleted gracefully: its kubelet finishes the job.
		k.ok("delete", "pod", "web", "--grace-period=20", "--wait=false")
		if got := k.ok("get", "pod", "web", "-o", "jsonpath={.metadata.deletionGracePeriodSeconds}"); got != "20" {
			t.Fatalf("deletionGracePeriodSeconds %q, want 20", got)
		}
		contains(t, "terminating", k.ok("get", "pod", "web"), "Terminating")
		contains(t, "force delete", k.ok("delete", "pod", "web", "--grace-period=0", "--force"), `pod "web" force deleted`)
		// Cascading policies: background deletes now; orphan and foreground
		// leave the owner with the garbage collector's finalizer.
		contains(t, "cascade background", k.ok("delete", "deploy", "nginx-deployment", "--cascade=background"), `deployment.apps "nginx-deployment" deleted`)
		k.ok("delete", "deploy", "hello", "-n", "team-a", "--cascade=orphan", "--wait=false")
		if got := k.ok("get", "deploy", "hello", "-n", "team-a", "-o", "jsonpath={.metadata.finalizers}"); got != `["orphan"]` {
			t.Fatalf("orphan cascade finalizers %q", got)
		}
		k.ok("create", "deployment", "fg", "--image=busybox")
		k.ok("delete", "deploy", "fg", "--cascade=foreground", "--wait=false")
		if got := k.ok("get", "deploy", "fg", "-o", "jsonpath={.metadata.finalizers}"); got != `["foregroundDeletion"]` {
			t.Fatalf("foreground cascade finalizers %q", got)
		}
		contains(t, "delete missing", k.fails("delete", "cm", "nothing-here"), `configmaps "nothing-here" not found`)
	})
}
