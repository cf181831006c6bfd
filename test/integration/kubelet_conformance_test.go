package integration

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Behaviour Kubernetes' [Conformance] e2e suite checks on a kubelet, each
// seen from a real container.

// succeededLogs waits for the pod to succeed and returns its main
// container's log.
func (e *kubeletEnv) succeededLogs(t *testing.T, name string) string {
	t.Helper()
	e.waitPodStatus(t, kubeletCtx(t), name, "Succeeded", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	code, out := e.logs(t, name, "main", "")
	if code != 200 {
		t.Fatalf("pod %s: logs: %d %s", name, code, out)
	}
	return out
}

// $(VAR) in command and args is expanded against the container's
// environment; $$( is a literal; an unknown variable stays as written.
func TestKubeletExpandsCommandAndArgs(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	env.create(t, ctx, env.pod("args", corev1.RestartPolicyNever, "", func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Env = []corev1.EnvVar{{Name: "TEST_VAR", Value: "test-value"}}
		c.Command = []string{"echo"}
		c.Args = []string{"$(TEST_VAR)", "$$(TEST_VAR)", "$(UNKNOWN)"}
	}))
	// The e2e test's shape: without expansion sh runs $(TEST_VAR) as a
	// command substitution ("sh: TEST_VAR: not found").
	env.create(t, ctx, env.pod("command", corev1.RestartPolicyNever, "echo $(TEST_VAR)", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TEST_VAR", Value: "test-value"}}
	}))
	if out := env.succeededLogs(t, "args"); out != "test-value $(TEST_VAR) $(UNKNOWN)\n" {
		t.Errorf("args: output %q", out)
	}
	if out := env.succeededLogs(t, "command"); out != "test-value\n" {
		t.Errorf("command: output %q", out)
	}
}
