package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/kubelet"
)

// Deleting a namespace removes everything in it (a bound pod once its
// kubelet has stopped it), then the namespace itself.
func TestNamespaceDeletionRemovesContent(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	kctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	cfg := kubelet.NodeConfig{Store: srv.Store, Admission: admissiontest.Follow(t, srv.Store), Name: "ns-node", NodeIP: "192.0.2.40", RootDir: t.TempDir(), Version: "test", Log: testlog.New(t)}
	wg.Add(1)
	go func() { defer wg.Done(); kubelet.RunHollowNode(kctx, cfg) }()

	core := srv.Client.CoreV1()
	const ns = "doomed"
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := newPod("bound", map[string]string{"app": "x"})
	pod.Spec.NodeName = "ns-node"
	if _, err := core.Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, func() bool {
		p, err := core.Pods(ns).Get(ctx, "bound", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning
	})

	if err := core.Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotFound(t, "namespace", func() error {
		_, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err
	})
	for what, get := range map[string]func() error{
		"configmap": func() error { _, err := core.ConfigMaps(ns).Get(ctx, "cm", metav1.GetOptions{}); return err },
		"secret":    func() error { _, err := core.Secrets(ns).Get(ctx, "s", metav1.GetOptions{}); return err },
		"service":   func() error { _, err := core.Services(ns).Get(ctx, "svc", metav1.GetOptions{}); return err },
		"pod":       func() error { _, err := core.Pods(ns).Get(ctx, "bound", metav1.GetOptions{}); return err },
	} {
		if err := get(); !apierrors.IsNotFound(err) {
			t.Errorf("%s of the deleted namespace: %v", what, err)
		}
	}

	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		kc := apiservertest.Kubeconfig(t, srv.URL)
		cmd := exec.CommandContext(ctx, kubectl, "get", "ns", "-o", "name")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+filepath.Dir(kc))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl get ns: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "namespace/default") || strings.Contains(string(out), "namespace/"+ns) {
			t.Errorf("kubectl get ns after the deletion:\n%s", out)
		}
	}
}

// A namespace whose content cannot all go yet stays Terminating and says
// what remains; it goes once that content does.
func TestNamespaceDeletionWaitsForContent(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	core := srv.Client.CoreV1()
	const ns = "stuck"
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	held := newPod("held", nil)
	held.Finalizers = []string{"example.com/hold"}
	if _, err := core.Pods(ns).Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := core.Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	condition := func(n *corev1.Namespace, typ corev1.NamespaceConditionType) *corev1.NamespaceCondition {
		for i := range n.Status.Conditions {
			if n.Status.Conditions[i].Type == typ {
				return &n.Status.Conditions[i]
			}
		}
		return nil
	}
	var got *corev1.Namespace
	waitUntil(t, 30*time.Second, func() bool {
		n, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return false
		}
		got = n
		c := condition(n, corev1.NamespaceContentRemaining)
		return c != nil && c.Status == corev1.ConditionTrue
	})
	if got.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("phase %q, want Terminating", got.Status.Phase)
	}
	if c := condition(got, corev1.NamespaceContentRemaining); c.Reason != "SomeResourcesRemain" || c.Message != "Some resources are remaining: pods has 1 resource instances" {
		t.Errorf("NamespaceContentRemaining: %+v", c)
	}
	if c := condition(got, corev1.NamespaceFinalizersRemaining); c == nil || c.Status != corev1.ConditionTrue ||
		c.Message != "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances" {
		t.Errorf("NamespaceFinalizersRemaining: %+v", c)
	}
	if c := condition(got, corev1.NamespaceDeletionContentFailure); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("NamespaceDeletionContentFailure: %+v", c)
	}
	if _, err := core.ConfigMaps(ns).Get(ctx, "cm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("configmap of the terminating namespace: %v", err)
	}
	p, err := core.Pods(ns).Get(ctx, "held", metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp == nil {
		t.Fatalf("held pod: %v %+v", err, p)
	}

	// Releasing the pod lets it, then the namespace, go.
	p.Finalizers = nil
	if _, err := core.Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotFound(t, "namespace", func() error {
		_, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err
	})
}
