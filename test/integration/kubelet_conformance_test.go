package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
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

// Init container statuses during and after initialisation, as Kubernetes
// 1.32 reports them: the running one is running and not ready, the ones
// after it and the containers wait with PodInitializing; once done, each
// is terminated/Completed and ready.
func TestKubeletInitContainerStatuses(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	gate := t.TempDir()
	env.create(t, ctx, env.pod("init", corev1.RestartPolicyNever, "true", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "gate", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: gate}}}}
		mounts := []corev1.VolumeMount{{Name: "gate", MountPath: "/gate"}}
		p.Spec.InitContainers = []corev1.Container{
			{Name: "wait", Image: env.image, Command: []string{"sh", "-c", "until test -e /gate/open; do sleep 0.1; done"}, VolumeMounts: mounts},
			{Name: "after", Image: env.image, Command: []string{"true"}},
		}
	}))
	p := env.waitPodStatus(t, ctx, "init", "first init container running", time.Minute, func(p *corev1.Pod) bool {
		return len(p.Status.InitContainerStatuses) == 2 && p.Status.InitContainerStatuses[0].State.Running != nil
	})
	waitingFor := func(cs corev1.ContainerStatus) string {
		if cs.State.Waiting == nil {
			return ""
		}
		return cs.State.Waiting.Reason
	}
	if cs := p.Status.InitContainerStatuses[0]; cs.Ready || cs.Started == nil || !*cs.Started {
		t.Errorf("running init container: ready %v started %v, want not ready, started", cs.Ready, cs.Started)
	}
	if cs := p.Status.InitContainerStatuses[1]; waitingFor(cs) != "PodInitializing" || cs.Ready {
		t.Errorf("init container not yet started: %+v", cs)
	}
	if cs := p.Status.ContainerStatuses[0]; waitingFor(cs) != "PodInitializing" || cs.Ready {
		t.Errorf("container during initialisation: %+v", cs)
	}
	if err := os.WriteFile(filepath.Join(gate, "open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p = env.waitPodStatus(t, ctx, "init", "Succeeded", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	for _, cs := range p.Status.InitContainerStatuses {
		if st := cs.State.Terminated; st == nil || st.Reason != "Completed" || !cs.Ready {
			t.Errorf("completed init container %s: ready %v, state %+v", cs.Name, cs.Ready, cs.State)
		}
	}
}

// Containers get the service-link variables of their namespace's
// services (not of headless ones), unless enableServiceLinks is false;
// a variable the container defines wins.
func TestKubeletServiceEnvironment(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	services := env.core.CoreV1().Services("default")
	foo, err := services.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "fooservice"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "foo"},
		Ports:    []corev1.ServicePort{{Name: "http-port", Port: 8765, TargetPort: intstr.FromInt32(8080)}},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := services.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "headless"}, Spec: corev1.ServiceSpec{
		ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Port: 80}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ip := foo.Spec.ClusterIP
	env.create(t, ctx, env.pod("links", corev1.RestartPolicyNever, "env | grep -E '^(FOOSERVICE|HEADLESS)_' | sort", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "FOOSERVICE_PORT", Value: "mine"}}
	}))
	env.create(t, ctx, env.pod("nolinks", corev1.RestartPolicyNever, "env | grep -E '^(FOOSERVICE|HEADLESS)_' | sort; true", func(p *corev1.Pod) {
		p.Spec.EnableServiceLinks = ptr.To(false)
	}))
	want := "FOOSERVICE_PORT=mine\n" +
		"FOOSERVICE_PORT_8765_TCP=tcp://" + ip + ":8765\n" +
		"FOOSERVICE_PORT_8765_TCP_ADDR=" + ip + "\n" +
		"FOOSERVICE_PORT_8765_TCP_PORT=8765\n" +
		"FOOSERVICE_PORT_8765_TCP_PROTO=tcp\n" +
		"FOOSERVICE_SERVICE_HOST=" + ip + "\n" +
		"FOOSERVICE_SERVICE_PORT=8765\n" +
		"FOOSERVICE_SERVICE_PORT_HTTP_PORT=8765\n"
	if out := env.succeededLogs(t, "links"); out != want {
		t.Errorf("links: environment\n%s\nwant\n%s", out, want)
	}
	if out := env.succeededLogs(t, "nolinks"); out != "" {
		t.Errorf("enableServiceLinks false: environment\n%s\nwant none of the service's variables", out)
	}
}

// Every container of a pod sees the pod's managed /etc/hosts: the pod's
// IP under its hostname (FQDN with a subdomain) and the hostAliases.
func TestKubeletEtcHosts(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	env.create(t, ctx, env.pod("aliases", corev1.RestartPolicyNever, "cat /etc/hosts", func(p *corev1.Pod) {
		p.Spec.Hostname, p.Spec.Subdomain = "host-1", "sub"
		p.Spec.HostAliases = []corev1.HostAlias{
			{IP: "123.45.67.89", Hostnames: []string{"foo.local", "bar.local"}},
			{IP: "10.1.2.3", Hostnames: []string{"foo.remote", "bar.remote"}},
		}
		p.Spec.InitContainers = []corev1.Container{{Name: "first", Image: env.image, Command: []string{"sh", "-c", "grep -q foo.local /etc/hosts"}}}
	}))
	out := env.succeededLogs(t, "aliases")
	p := mustGet(t, ctx, env, "aliases")
	want := "# Kubernetes-managed hosts file.\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n" +
		p.Status.PodIP + "\thost-1.sub.default.svc.cluster.local\thost-1\n" +
		"\n" +
		"# Entries added by HostAliases.\n" +
		"123.45.67.89\tfoo.local\tbar.local\n" +
		"10.1.2.3\tfoo.remote\tbar.remote\n"
	if p.Status.PodIP == "" || out != want {
		t.Errorf("/etc/hosts (pod IP %q):\n%s\nwant:\n%s", p.Status.PodIP, out, want)
	}
}

// What a container writes to its terminationMessagePath is its terminated
// state's message (lastState's after a restart), for any user and path;
// FallbackToLogsOnError takes the log's tail when a failed container
// wrote nothing.
func TestKubeletTerminationMessages(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	env.create(t, ctx, env.pod("file", corev1.RestartPolicyNever, "echo -n DONE > /dev/termination-log", nil))
	env.create(t, ctx, env.pod("nonroot", corev1.RestartPolicyNever, "echo -n DONE > /dev/termination-custom-log", func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.TerminationMessagePath = "/dev/termination-custom-log"
		c.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To(int64(1000))}
	}))
	env.create(t, ctx, env.pod("fallback", corev1.RestartPolicyNever, "echo first; echo from-logs; exit 1", func(p *corev1.Pod) {
		p.Spec.Containers[0].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	}))
	// The conformance test's case: the log's last line has no newline.
	env.create(t, ctx, env.pod("fallback-unterminated", corev1.RestartPolicyNever, "echo -n DONE; false", func(p *corev1.Pod) {
		p.Spec.Containers[0].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	}))
	env.create(t, ctx, env.pod("fallback-ok", corev1.RestartPolicyNever, "echo not a message", func(p *corev1.Pod) {
		p.Spec.Containers[0].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	}))
	env.create(t, ctx, env.pod("restarted", corev1.RestartPolicyOnFailure,
		"if [ -e /state/ran ]; then echo -n second > /dev/termination-log; else touch /state/ran; echo -n first > /dev/termination-log; exit 3; fi", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "state", MountPath: "/state"}}
		}))
	message := func(name string, phase corev1.PodPhase) string {
		t.Helper()
		p := env.waitPodStatus(t, ctx, name, string(phase), time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == phase })
		st := terminated(p, 0)
		if st == nil {
			t.Fatalf("%s: no terminated state: %+v", name, p.Status.ContainerStatuses)
		}
		return st.Message
	}
	if m := message("file", corev1.PodSucceeded); m != "DONE" {
		t.Errorf("file: message %q", m)
	}
	if m := message("nonroot", corev1.PodSucceeded); m != "DONE" {
		t.Errorf("non-root user, custom path: message %q", m)
	}
	if m := message("fallback", corev1.PodFailed); m != "first\nfrom-logs\n" {
		t.Errorf("fallback to logs: message %q", m)
	}
	if m := message("fallback-unterminated", corev1.PodFailed); m != "DONE" {
		t.Errorf("fallback to a log without a final newline: message %q, want \"DONE\"", m)
	}
	if m := message("fallback-ok", corev1.PodSucceeded); m != "" {
		t.Errorf("fallback to logs on success: message %q, want none", m)
	}
	if m := message("restarted", corev1.PodSucceeded); m != "second" {
		t.Errorf("restarted: message %q", m)
	}
	p := mustGet(t, ctx, env, "restarted")
	if lt := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt == nil || lt.Message != "first" || lt.ExitCode != 3 {
		t.Errorf("restarted: lastState %+v", p.Status.ContainerStatuses[0].LastTerminationState)
	}
}

// A non-root container reads a 0440 secret file through its fsGroup: the
// file is the group's.
func TestKubeletFSGroupVolumes(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	if _, err := env.core.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec"},
		Data: map[string][]byte{"data-1": []byte("value-1")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.create(t, ctx, env.pod("fsgroup", corev1.RestartPolicyNever, "id -u; stat -c '%g %a' /etc/secret/..data/data-1; cat /etc/secret/data-1", func(p *corev1.Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(1000)), FSGroup: ptr.To(int64(2000))}
		p.Spec.Volumes = []corev1.Volume{{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "sec", DefaultMode: ptr.To(int32(0o440))}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "sec", MountPath: "/etc/secret"}}
	}))
	// cat prints the file as it is: without a final newline, as the
	// secret's value has none.
	if out := env.succeededLogs(t, "fsgroup"); out != "1000\n2000 440\nvalue-1" {
		t.Errorf("output %q, want uid 1000 reading a 0440 file of group 2000", out)
	}
}
