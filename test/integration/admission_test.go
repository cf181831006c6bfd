package integration

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/apiserver"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

// The apiserver stores its admission flags where every component reads
// them, a user can see and edit them with kubectl, an edit that does not
// parse is refused, and a valid one applies to the next pod.
func TestAdmissionSettingsInEtcd(t *testing.T) {
	srv := apiservertest.Start(t, func(o *apiserver.Options) { o.Admission.DefaultUnreachableTolerationSeconds = 42 })
	ctx := testCtx(t)
	cms := srv.Client.CoreV1().ConfigMaps("kube-system")
	cm, err := cms.Get(ctx, "shepherd-admission", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["default-unreachable-toleration-seconds"] != "42" || cm.Data["default-not-ready-toleration-seconds"] != "300" {
		t.Fatalf("stored settings %v, want unreachable 42 and not-ready 300", cm.Data)
	}

	bad := cm.DeepCopy()
	bad.Data["default-not-ready-toleration-seconds"] = "five"
	bad.Data["default-unreachable-toleration-secs"] = "1"
	_, err = cms.Update(ctx, bad, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("unparseable settings: %v, want 422", err)
	}
	causes := map[string]bool{}
	for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
		causes[c.Field] = true
	}
	if !causes["data[default-not-ready-toleration-seconds]"] || !causes["data[default-unreachable-toleration-secs]"] {
		t.Errorf("causes %v, want both keys named", causes)
	}

	cm.Data["default-not-ready-toleration-seconds"] = "7"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The apiserver's own admission follows its cache of the ConfigMap.
	waitUntil(t, 10*time.Second, func() bool {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "p-"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
		out, err := srv.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{DryRun: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tol := range out.Spec.Tolerations {
			if tol.Key == corev1.TaintNodeNotReady && tol.TolerationSeconds != nil && *tol.TolerationSeconds == 7 {
				return true
			}
		}
		return false
	})
}

// Priority admission, as kube-apiserver's: a pod may not set its own
// priority, and names only classes that exist.
func TestPriorityAdmission(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	withPriority := p.DeepCopy()
	v := int32(5)
	withPriority.Spec.Priority = &v
	_, err := pods.Create(ctx, withPriority, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "the integer value of priority (5) must not be provided in pod spec") {
		t.Errorf("spec.priority without a class: %v, want 403", err)
	}
	unknown := p.DeepCopy()
	unknown.Spec.PriorityClassName = "batch"
	_, err = pods.Create(ctx, unknown, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `pods "p" is forbidden: no PriorityClass with name batch was found`) {
		t.Errorf("unknown class: %v, want 403", err)
	}
	critical := p.DeepCopy()
	critical.Spec.PriorityClassName = "system-cluster-critical"
	out, err := pods.Create(ctx, critical, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Spec.Priority == nil || *out.Spec.Priority != 2000000000 || out.Spec.PreemptionPolicy == nil || *out.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("system-cluster-critical: priority %v, preemptionPolicy %v", out.Spec.Priority, out.Spec.PreemptionPolicy)
	}
}
