package integration

import (
	"fmt"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

func TestStaleUpdateIsConflict(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	cms := srv.Client.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := cm.DeepCopy()
	first.Data["v"] = "2"
	if _, err := cms.Update(ctx, first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := cm.DeepCopy()
	stale.Data["v"] = "stale"
	_, err = cms.Update(ctx, stale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("update at an old resourceVersion: %v, want 409 Conflict", err)
	}
	want := `Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your changes to the latest version and try again`
	if err.Error() != want {
		t.Fatalf("conflict message %q, want %q", err, want)
	}
	got, _ := cms.Get(ctx, "c", metav1.GetOptions{})
	if got.Data["v"] != "2" {
		t.Fatalf("value after the refused write: %q", got.Data["v"])
	}
	// Without a resourceVersion the update is unconditional.
	uncond := got.DeepCopy()
	uncond.ResourceVersion = ""
	uncond.Data["v"] = "3"
	if _, err := cms.Update(ctx, uncond, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("unconditional update: %v", err)
	}
}

func TestConcurrentPatchesAllLand(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("p", map[string]string{"base": "x"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const writers = 24
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 { // every patch type, all at once
			case 0:
				_, err = pods.Patch(ctx, "p", types.MergePatchType, fmt.Appendf(nil, `{"metadata":{"labels":{"w%d":"x"}}}`, i), metav1.PatchOptions{})
			case 1:
				_, err = pods.Patch(ctx, "p", types.StrategicMergePatchType, fmt.Appendf(nil, `{"metadata":{"labels":{"w%d":"x"}}}`, i), metav1.PatchOptions{})
			case 2:
				_, err = pods.Patch(ctx, "p", types.JSONPatchType, fmt.Appendf(nil, `[{"op":"add","path":"/metadata/labels/w%d","value":"x"}]`, i), metav1.PatchOptions{})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("patch: %v", err)
		}
	}
	p, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range writers {
		if p.Labels[fmt.Sprintf("w%d", i)] != "x" {
			t.Fatalf("the label of writer %d was lost; labels %v", i, p.Labels)
		}
	}
}

func TestPatchErrors(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		pt    types.PatchType
		body  string
		check func(error) bool
	}{
		{"malformed merge patch", types.MergePatchType, `{`, apierrors.IsBadRequest},
		{"malformed json patch", types.JSONPatchType, `{"op":"add"}`, apierrors.IsBadRequest},
		{"failed json patch test", types.JSONPatchType, `[{"op":"test","path":"/metadata/name","value":"q"}]`, apierrors.IsInvalid},
		{"patch making the pod invalid", types.MergePatchType, `{"spec":{"containers":[{"name":"c","image":""}]}}`, apierrors.IsInvalid},
		{"patch of an immutable field", types.StrategicMergePatchType, `{"spec":{"restartPolicy":"Never"}}`, apierrors.IsInvalid},
		{"stale resourceVersion in the patch", types.MergePatchType, `{"metadata":{"resourceVersion":"1","labels":{"a":"b"}}}`, apierrors.IsConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pods.Patch(ctx, "p", c.pt, []byte(c.body), metav1.PatchOptions{})
			if err == nil || !c.check(err) {
				t.Fatalf("got %v", err)
			}
		})
	}
	if _, err := pods.Patch(ctx, "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("patch of a missing pod: %v, want NotFound", err)
	}
}
