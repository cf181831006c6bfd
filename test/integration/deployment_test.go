package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/controller/deployment"
)

func deploymentFixture(name string, n int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(n),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
		},
	}
}

// waitDeploymentRollout waits until d's status shows a finished rollout of its
// current spec (the test kubectl rollout status makes), with n ready pods
// of image and no others, and returns the Deployment.
func waitDeploymentRollout(t *testing.T, ctx context.Context, cs kubernetes.Interface, name, image string, n int) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	waitUntil(t, 25*time.Second, func() bool {
		var err error
		d, err = cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil || d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != int32(n) ||
			d.Status.Replicas != int32(n) || d.Status.AvailableReplicas != int32(n) {
			return false
		}
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil || len(list.Items) != n {
			return false
		}
		for _, p := range list.Items {
			if !podIsReady(&p) || p.DeletionTimestamp != nil || p.Spec.Containers[0].Image != image {
				return false
			}
		}
		return true
	})
	return d
}

func setDeploymentImage(t *testing.T, ctx context.Context, cs kubernetes.Interface, name, image string) {
	t.Helper()
	d, err := cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = image
	if _, err := cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func listReplicaSetsOf(t *testing.T, ctx context.Context, cs kubernetes.Interface, app string) []appsv1.ReplicaSet {
	t.Helper()
	list, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// rolloutKubectl runs the real kubectl against srv; it skips the test when
// kubectl is not installed.
func rolloutKubectl(t *testing.T, url string) func(args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH")
	}
	kc := apiservertest.Kubeconfig(t, url)
	dir := filepath.Dir(kc)
	return func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
}

// A Deployment rolls out N ready pods through a ReplicaSet named by its
// template hash; a new image rolls out with the ready pods a watch sees
// staying within [replicas-maxUnavailable, replicas+maxSurge]; kubectl
// rollout status succeeds; kubectl rollout undo brings the old template
// back on the old ReplicaSet, under a new revision.
func TestDeploymentRollingUpdate(t *testing.T) {
	srv, ctx := startWorkloadCluster(t, true)
	cs := srv.Client
	kubectl := rolloutKubectl(t, srv.URL)
	d := deploymentFixture("web", 4, "busybox:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromString("25%")),
	}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl("rollout", "status", "deployment/web", "--timeout=25s"); err != nil {
		t.Fatalf("kubectl rollout status: %v\n%s", err, out)
	}
	d = waitDeploymentRollout(t, ctx, cs, "web", "busybox:1", 4)
	rss := listReplicaSetsOf(t, ctx, cs, "web")
	if len(rss) != 1 {
		t.Fatalf("%d replica sets after the first rollout", len(rss))
	}
	first := rss[0]
	hash := first.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if hash == "" || first.Name != "web-"+hash || first.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		first.Annotations[deployment.RevisionAnnotation] != "1" || first.Annotations[deployment.DesiredReplicasAnnotation] != "4" ||
		first.Annotations[deployment.MaxReplicasAnnotation] != "5" || d.Annotations[deployment.RevisionAnnotation] != "1" {
		t.Errorf("replica set %s labels %v annotations %v; deployment annotations %v", first.Name, first.Labels, first.Annotations, d.Annotations)
	}

	// Roll out a new image, watching the ready pods (maxUnavailable 25% of
	// 4 is 1, rounded down; maxSurge 1).
	var mu sync.Mutex
	lowest, highest := 4, 4
	watchPodCounts(t, cs, "app=web", func(pods map[string]*corev1.Pod) {
		ready := 0
		for _, p := range pods {
			if p.DeletionTimestamp == nil && podIsReady(p) {
				ready++
			}
		}
		mu.Lock()
		lowest, highest = min(lowest, ready), max(highest, ready)
		mu.Unlock()
	})
	setDeploymentImage(t, ctx, cs, "web", "busybox:2")
	if out, err := kubectl("rollout", "status", "deployment/web", "--timeout=25s"); err != nil {
		t.Fatalf("kubectl rollout status: %v\n%s", err, out)
	}
	d = waitDeploymentRollout(t, ctx, cs, "web", "busybox:2", 4)
	mu.Lock()
	if lowest < 3 || highest > 5 {
		t.Errorf("during the rollout a watch saw between %d and %d ready pods, want within [3, 5]", lowest, highest)
	}
	mu.Unlock()
	if d.Annotations[deployment.RevisionAnnotation] != "2" {
		t.Errorf("deployment revision %q after the update, want 2", d.Annotations[deployment.RevisionAnnotation])
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason != "NewReplicaSetAvailable" ||
			c.Type == appsv1.DeploymentAvailable && (c.Status != corev1.ConditionTrue || c.Reason != "MinimumReplicasAvailable") {
			t.Errorf("condition %+v", c)
		}
	}
	if out, err := kubectl("rollout", "history", "deployment/web"); err != nil || !bytes.Contains([]byte(out), []byte("2 ")) {
		t.Errorf("kubectl rollout history: %v\n%s", err, out)
	}

	// Undo: back to busybox:1 on the first ReplicaSet, now revision 3.
	if out, err := kubectl("rollout", "undo", "deployment/web"); err != nil {
		t.Fatalf("kubectl rollout undo: %v\n%s", err, out)
	}
	if out, err := kubectl("rollout", "status", "deployment/web", "--timeout=25s"); err != nil {
		t.Fatalf("kubectl rollout status after undo: %v\n%s", err, out)
	}
	d = waitDeploymentRollout(t, ctx, cs, "web", "busybox:1", 4)
	rss = listReplicaSetsOf(t, ctx, cs, "web")
	if len(rss) != 2 {
		t.Fatalf("%d replica sets after undo, want 2", len(rss))
	}
	for _, rs := range rss {
		if rs.Name == first.Name && (ptr.Deref(rs.Spec.Replicas, 0) != 4 || rs.Annotations[deployment.RevisionAnnotation] != "3") {
			t.Errorf("the first replica set after undo: replicas %d revision %q", ptr.Deref(rs.Spec.Replicas, 0), rs.Annotations[deployment.RevisionAnnotation])
		}
		if rs.Name != first.Name && ptr.Deref(rs.Spec.Replicas, 0) != 0 {
			t.Errorf("replica set %s still has %d replicas", rs.Name, ptr.Deref(rs.Spec.Replicas, 0))
		}
	}
	if d.Annotations[deployment.RevisionAnnotation] != "3" {
		t.Errorf("deployment revision %q after undo, want 3", d.Annotations[deployment.RevisionAnnotation])
	}

	// kubectl scale goes through the scale subresource.
	if out, err := kubectl("scale", "deployment/web", "--replicas=2"); err != nil {
		t.Fatalf("kubectl scale: %v\n%s", err, out)
	}
	waitDeploymentRollout(t, ctx, cs, "web", "busybox:1", 2)
}

// Recreate: no pod of the new template exists while one of the old does.
func TestDeploymentRecreate(t *testing.T) {
	srv, ctx := startWorkloadCluster(t, true)
	cs := srv.Client
	d := deploymentFixture("rec", 3, "busybox:1")
	d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentRollout(t, ctx, cs, "rec", "busybox:1", 3)
	var mu sync.Mutex
	var overlap bool
	watchPodCounts(t, cs, "app=rec", func(pods map[string]*corev1.Pod) {
		images := map[string]bool{}
		for _, p := range pods {
			images[p.Spec.Containers[0].Image] = true
		}
		mu.Lock()
		overlap = overlap || len(images) > 1
		mu.Unlock()
	})
	setDeploymentImage(t, ctx, cs, "rec", "busybox:2")
	waitDeploymentRollout(t, ctx, cs, "rec", "busybox:2", 3)
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("pods of the old and the new template existed at the same time")
	}
}

// revisionHistoryLimit keeps that many old ReplicaSets, the newest ones.
func TestDeploymentRevisionHistoryLimit(t *testing.T) {
	srv, ctx := startWorkloadCluster(t, true)
	cs := srv.Client
	d := deploymentFixture("hist", 2, "busybox:1")
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentRollout(t, ctx, cs, "hist", "busybox:1", 2)
	for _, image := range []string{"busybox:2", "busybox:3", "busybox:4"} {
		setDeploymentImage(t, ctx, cs, "hist", image)
		waitDeploymentRollout(t, ctx, cs, "hist", image, 2)
	}
	waitUntil(t, 20*time.Second, func() bool {
		rss := listReplicaSetsOf(t, ctx, cs, "hist")
		if len(rss) != 2 {
			return false
		}
		revs := map[string]bool{}
		for _, rs := range rss {
			revs[rs.Annotations[deployment.RevisionAnnotation]] = true
		}
		return revs["3"] && revs["4"]
	})
}

// A paused Deployment does not roll out a new template, but scales; once
// resumed it rolls out.
func TestDeploymentPaused(t *testing.T) {
	srv, ctx := startWorkloadCluster(t, true)
	cs := srv.Client
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, deploymentFixture("pause", 2, "busybox:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentRollout(t, ctx, cs, "pause", "busybox:1", 2)
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "pause", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Paused = true
	d.Spec.Template.Spec.Containers[0].Image = "busybox:2"
	d.Spec.Replicas = ptr.To[int32](4)
	if _, err := cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The scale is applied to the old template; no new ReplicaSet appears.
	var paused *appsv1.Deployment
	waitUntil(t, 20*time.Second, func() bool {
		paused, err = cs.AppsV1().Deployments("default").Get(ctx, "pause", metav1.GetOptions{})
		if err != nil || paused.Status.ObservedGeneration < paused.Generation || paused.Status.AvailableReplicas != 4 {
			return false
		}
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=pause"})
		if err != nil || len(list.Items) != 4 {
			return false
		}
		for _, p := range list.Items {
			if p.Spec.Containers[0].Image != "busybox:1" {
				t.Fatalf("pod %s of the new template while paused", p.Name)
			}
		}
		return true
	})
	if rss := listReplicaSetsOf(t, ctx, cs, "pause"); len(rss) != 1 {
		t.Errorf("%d replica sets while paused, want 1", len(rss))
	}
	var reason string
	for _, c := range paused.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			reason = c.Reason
		}
	}
	if reason != "DeploymentPaused" {
		t.Errorf("Progressing reason %q while paused", reason)
	}
	paused.Spec.Paused = false
	if _, err := cs.AppsV1().Deployments("default").Update(ctx, paused, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentRollout(t, ctx, cs, "pause", "busybox:2", 4)
}

// A rollout whose pods never become available exceeds its progress
// deadline: the Progressing condition turns False with
// ProgressDeadlineExceeded and kubectl rollout status fails.
func TestDeploymentProgressDeadline(t *testing.T) {
	srv, ctx := startWorkloadCluster(t, true)
	cs := srv.Client
	kubectl := rolloutKubectl(t, srv.URL)
	d := deploymentFixture("stuck", 2, "busybox:1")
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](1)
	d.Spec.Template.Spec.NodeSelector = map[string]string{"no-such": "node"} // never scheduled
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, func() bool {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "stuck", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
				return true
			}
		}
		return false
	})
	out, err := kubectl("rollout", "status", "deployment/stuck", "--timeout=20s")
	if err == nil || !bytes.Contains([]byte(out), []byte("exceeded its progress deadline")) {
		t.Errorf("kubectl rollout status of a stuck rollout: %v\n%s", err, out)
	}
	d, err = cs.AppsV1().Deployments("default").Get(ctx, "stuck", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && (c.Status != corev1.ConditionFalse || c.Reason != "MinimumReplicasUnavailable") {
			t.Errorf("Available condition %+v with no pod available", c)
		}
	}
	if d.Status.UnavailableReplicas != 2 || d.Status.AvailableReplicas != 0 {
		t.Errorf("status %+v", d.Status)
	}
}

// The conformance test "deployment should support proportional scaling":
// a Deployment of 10 (maxSurge 3, maxUnavailable 2) is rolled to a
// template whose pods never become available (here: no node matches its
// nodeSelector), which stops the rollout at 8 old and 5 new; scaled to 30
// then, each ReplicaSet keeps its share of the 33 allowed: the old one 20,
// the new one 13, as on Kubernetes.
func TestDeploymentProportionalScaling(t *testing.T) {
	srv, ctx := startWorkloadCluster(t, true)
	cs := srv.Client
	d := deploymentFixture("prop", 10, "busybox:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(3)), MaxUnavailable: ptr.To(intstr.FromInt32(2)),
	}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentRollout(t, ctx, cs, "prop", "busybox:1", 10)
	rss := listReplicaSetsOf(t, ctx, cs, "prop")
	if len(rss) != 1 {
		t.Fatalf("%d replica sets after the first rollout", len(rss))
	}
	first := rss[0].Name

	d, err := cs.AppsV1().Deployments("default").Get(ctx, "prop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "busybox:404"
	d.Spec.Template.Spec.NodeSelector = map[string]string{"no-such": "node"}
	if _, err := cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The stalled rollout: old 8 (all available), new 10+3-8 = 5.
	second := waitReplicaSetSizes(t, ctx, cs, "prop", first, 8, 5)
	if d, err = cs.AppsV1().Deployments("default").Get(ctx, "prop", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas < 8 {
		t.Errorf("%d replicas available mid-rollout, want at least 8", d.Status.AvailableReplicas)
	}

	d.Spec.Replicas = ptr.To[int32](30)
	if _, err := cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReplicaSetSizes(t, ctx, cs, "prop", first, 20, 13)
	for _, rs := range listReplicaSetsOf(t, ctx, cs, "prop") {
		if rs.Annotations[deployment.DesiredReplicasAnnotation] != "30" || rs.Annotations[deployment.MaxReplicasAnnotation] != "33" {
			t.Errorf("replica set %s annotations %v after the scale, want desired 30, max 33", rs.Name, rs.Annotations)
		}
	}
	if second == "" {
		t.Fatal("no second replica set")
	}
}

// waitReplicaSetSizes waits until app's Deployment has two ReplicaSets, first
// with spec.replicas oldSize all available and the other with newSize
// (none available), and the Deployment's status has caught up with its
// spec; it returns the other's name.
func waitReplicaSetSizes(t *testing.T, ctx context.Context, cs kubernetes.Interface, app, first string, oldSize, newSize int32) string {
	t.Helper()
	var seen []string
	var second string
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		d, derr := cs.AppsV1().Deployments("default").Get(ctx, app, metav1.GetOptions{})
		if err == nil && derr == nil && len(list.Items) == 2 && d.Status.ObservedGeneration >= d.Generation {
			seen = seen[:0]
			ok := true
			for _, rs := range list.Items {
				size := ptr.Deref(rs.Spec.Replicas, 0)
				seen = append(seen, fmt.Sprintf("%s: spec %d, available %d", rs.Name, size, rs.Status.AvailableReplicas))
				if rs.Name == first {
					ok = ok && size == oldSize && rs.Status.AvailableReplicas == oldSize
				} else {
					second = rs.Name
					ok = ok && size == newSize && rs.Status.AvailableReplicas == 0
				}
			}
			if ok {
				return second
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica sets of %s never reached old %d, new %d; last seen %v", app, oldSize, newSize, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
