package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestValidatePodUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(pod, old *corev1.Pod)
		want   []wantErr
	}{
		{"no change", func(_, _ *corev1.Pod) {}, nil},
		{"image and labels change", func(p, _ *corev1.Pod) {
			p.Spec.Containers[0].Image = "nginx:1.28"
			p.Labels["track"] = "canary"
		}, nil},
		{"init container image changes", func(p, old *corev1.Pod) {
			c := validContainer("setup")
			c.Ports = nil
			old.Spec.InitContainers = []corev1.Container{c}
			p.Spec.InitContainers = []corev1.Container{*c.DeepCopy()}
			p.Spec.InitContainers[0].Image = "busybox:1.37"
		}, nil},
		{"port changes", func(p, _ *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 8080 }, errs(forbidden("spec"))},
		{"container added", func(p, _ *corev1.Pod) {
			c := validContainer("sidecar")
			c.Ports = nil
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, errs(forbidden("spec.containers"))},
		{"image removed", func(p, _ *corev1.Pod) { p.Spec.Containers[0].Image = "" }, errs(required("spec.containers[0].image"))},
		{"nodeName set by update", func(p, _ *corev1.Pod) { p.Spec.NodeName = "node-1" }, errs(forbidden("spec"))},
		{"nodeName changed", func(p, old *corev1.Pod) {
			old.Spec.NodeName = "node-1"
			p.Spec.NodeName = "node-2"
		}, errs(forbidden("spec"))},
		{"activeDeadlineSeconds set", func(p, _ *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](60) }, nil},
		{"activeDeadlineSeconds lowered", func(p, old *corev1.Pod) {
			old.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
			p.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
		}, nil},
		{"activeDeadlineSeconds raised", func(p, old *corev1.Pod) {
			old.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
			p.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
		}, errs(invalid("spec.activeDeadlineSeconds"))},
		{"activeDeadlineSeconds removed", func(p, old *corev1.Pod) {
			old.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
			p.Spec.ActiveDeadlineSeconds = nil
		}, errs(invalid("spec.activeDeadlineSeconds"))},
		{"toleration added", func(p, _ *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
		}, nil},
		{"toleration removed", func(p, old *corev1.Pod) {
			old.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
			p.Spec.Tolerations = nil
		}, errs(forbidden("spec.tolerations"))},
		{"toleration seconds changed", func(p, old *corev1.Pod) {
			tl := corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}
			old.Spec.Tolerations = []corev1.Toleration{tl}
			p.Spec.Tolerations = []corev1.Toleration{*tl.DeepCopy()}
			p.Spec.Tolerations[0].TolerationSeconds = ptr.To[int64](10)
		}, nil},
		{"grace period changed", func(p, _ *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](5) }, errs(forbidden("spec"))},
		{"negative grace period corrected to 1", func(p, old *corev1.Pod) {
			old.Spec.TerminationGracePeriodSeconds = ptr.To[int64](-5)
			p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		}, nil},
		{"negative grace period changed to 2", func(p, old *corev1.Pod) {
			old.Spec.TerminationGracePeriodSeconds = ptr.To[int64](-5)
			p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](2)
		}, errs(forbidden("spec"))},
		{"scheduling gate removed", func(p, old *corev1.Pod) {
			old.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
			p.Spec.SchedulingGates = nil
		}, nil},
		{"scheduling gate added", func(p, _ *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		}, errs(forbidden("spec.schedulingGates[0].name"))},
		{"name changed", func(p, _ *corev1.Pod) { p.Name = "web-2" }, errs(invalid("metadata.name"))},
		{"resourceVersion missing", func(p, _ *corev1.Pod) { p.ResourceVersion = "" }, errs(invalid("metadata.resourceVersion"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := validPod()
			old.ResourceVersion = "7"
			pod := old.DeepCopy()
			tc.mutate(pod, old)
			assertErrors(t, ValidatePodUpdate(pod, old), tc.want)
		})
	}
}

func TestValidatePodUpdateMessage(t *testing.T) {
	old := validPod()
	old.ResourceVersion = "7"
	pod := old.DeepCopy()
	pod.Spec.Containers[0].Ports[0].ContainerPort = 8080
	got := ValidatePodUpdate(pod, old)
	if len(got) != 1 {
		t.Fatalf("want one error, got:\n%s", describe(got))
	}
	msg := got[0].Error()
	for _, want := range []string{
		"spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n",
		"spec.containers[0].ports[0].containerPort: 80 -> 8080",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}
