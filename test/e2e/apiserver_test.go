package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

// TestRestartKeepsAcknowledgedObjects SIGKILLs the apiserver (and so its
// embedded etcd) right after a burst of writes and checks that every
// acknowledged object is there after a restart on the same data dir, with
// the same uid and resourceVersion.
func TestRestartKeepsAcknowledgedObjects(t *testing.T) {
	dataDir := t.TempDir()
	args, url := apiserverArgs(t, dataDir)
	first := start(t, binary("shepherd-apiserver"), args...)
	client := waitReady(t, first, url)
	ctx := ctxFor(t)

	type ack struct{ uid, rv string }
	acked := map[string]ack{}
	for i := range 50 {
		p, err := client.CoreV1().Pods("default").Create(ctx, testPod(fmt.Sprintf("p%02d", i)), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		acked["pod/"+p.Name] = ack{string(p.UID), p.ResourceVersion}
	}
	replicas := int32(3)
	d, err := client.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: testPod("x").Spec},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	acked["deployment/web"] = ack{string(d.UID), d.ResourceVersion}
	svc, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	acked["service/web"] = ack{string(svc.UID), svc.ResourceVersion}
	// The last write acknowledged before the kill is an update.
	cm, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["v"] = "2"
	if cm, err = client.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	acked["configmap/c"] = ack{string(cm.UID), cm.ResourceVersion}

	first.kill(syscall.SIGKILL)

	second := start(t, binary("shepherd-apiserver"), args...)
	client = waitReady(t, second, url)
	check := func(key string, uid, rv string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s after restart: %v", key, err)
		}
		if want := acked[key]; uid != want.uid || rv != want.rv {
			t.Fatalf("%s after restart: uid %s rv %s, want uid %s rv %s", key, uid, rv, want.uid, want.rv)
		}
	}
	for i := range 50 {
		name := fmt.Sprintf("p%02d", i)
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		check("pod/"+name, string(p.UID), p.ResourceVersion, err)
	}
	gd, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	check("deployment/web", string(gd.UID), gd.ResourceVersion, err)
	gs, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	check("service/web", string(gs.UID), gs.ResourceVersion, err)
	gc, err := client.CoreV1().ConfigMaps("default").Get(ctx, "c", metav1.GetOptions{})
	check("configmap/c", string(gc.UID), gc.ResourceVersion, err)
	if gc.Data["v"] != "2" {
		t.Fatalf("configmap after restart has v=%s, want the acknowledged 2", gc.Data["v"])
	}
	// The restarted server keeps serving writes, and the cluster IP stays held.
	taken := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "copy"},
		Spec:       corev1.ServiceSpec{ClusterIP: gs.Spec.ClusterIP, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, taken, metav1.CreateOptions{}); err == nil {
		t.Fatal("a new service took the cluster IP of one created before the restart")
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, testPod("after"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create after restart: %v", err)
	}

	// A clean stop (SIGTERM) exits 0.
	second.kill(syscall.SIGTERM)
	if _, code := second.exited(); code != 0 {
		t.Fatalf("apiserver exited %d on SIGTERM:\n%s", code, second.out)
	}
}

// TestExternalEtcd runs the apiserver against a separate etcd process.
func TestExternalEtcd(t *testing.T) {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("no etcd binary on PATH (Debian package etcd-server); skipping the external etcd test")
	}
	etcdDir := t.TempDir()
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	etcdArgs := []string{
		"--name", "external", "--data-dir", etcdDir,
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "external=" + peerURL,
	}
	etcd := start(t, etcdBin, etcdArgs...)

	dataDir := t.TempDir()
	port := freePort(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	apiserver := start(t, binary("shepherd-apiserver"), "--etcd-servers", clientURL, "--data-dir", dataDir, "--port", strconv.Itoa(port))
	client := waitReady(t, apiserver, url)
	ctx := ctxFor(t)
	if _, err := client.CoreV1().Pods("default").Create(ctx, testPod("ext"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "etcd")); !os.IsNotExist(err) {
		t.Fatalf("the apiserver started an embedded etcd in %s although --etcd-servers was given", dataDir)
	}
	if entries, _ := os.ReadDir(filepath.Join(etcdDir, "member")); len(entries) == 0 {
		t.Fatal("the external etcd has no data")
	}

	// Not ready while etcd is unreachable; ready again when it is back.
	etcd.kill(syscall.SIGTERM)
	waitStatus(t, url+"/readyz", http.StatusInternalServerError)
	if code := status(t, url+"/livez"); code != http.StatusOK {
		t.Fatalf("/livez with etcd down: %d, want 200", code)
	}
	start(t, etcdBin, etcdArgs...)
	waitStatus(t, url+"/readyz", http.StatusOK)
	if _, err := client.CoreV1().Pods("default").Get(ctx, "ext", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod after etcd restart: %v", err)
	}
}

func status(t *testing.T, url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for status(t, url) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %d within 30s (last %d)", url, want, status(t, url))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
