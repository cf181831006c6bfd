package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/kubelet"
	"github.com/shepherd-lab/shepherd/kubelet/kubelettest"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/runtime/image"
	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

// kubeletEnv is a real kubelet (real containers) against an in-process
// apiserver, with busybox in an in-process registry.
type kubeletEnv struct {
	srv     *apiservertest.Server
	core    kubernetes.Interface
	root    string
	image   string
	node    string
	mu      sync.Mutex
	addr    string
	stop    func()
	stopped chan struct{}
}

func requireKubeletHost(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the kubelet creates namespaces, mounts and cgroups")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox: install Debian's busybox-static")
	}
}

func newKubeletEnv(t *testing.T) *kubeletEnv {
	requireKubeletHost(t)
	srv := apiservertest.Start(t)
	host := imagetest.Registry(t)
	env := &kubeletEnv{
		srv: srv, core: srv.Client, root: t.TempDir(), node: "kubelet-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")),
		image: imagetest.Push(t, host, "busybox:1.36", imagetest.Busybox(t)),
	}
	env.start(t)
	t.Cleanup(func() {
		env.kill()
		kubelettest.Clean(env.root)
	})
	return env
}

// start runs a kubelet on env.root until kill.
func (e *kubeletEnv) start(t *testing.T) {
	t.Helper()
	host := strings.SplitN(e.image, "/", 2)[0]
	images, err := image.Open(filepath.Join(e.root, "images"), image.Options{Insecure: []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := container.New(container.Config{Root: filepath.Join(e.root, "runtime"), ShimPath: os.Args[0], SpareMonitor: true})
	if err != nil {
		t.Fatal(err)
	}
	k, err := kubelet.New(kubelet.Config{
		NodeConfig: kubelet.NodeConfig{Store: e.srv.Store, Admission: admissiontest.Follow(t, e.srv.Store), Name: e.node, NodeIP: "127.0.0.1", RootDir: e.root,
			LeaseDuration: 8 * time.Second, Version: "test", Log: testlog.New(t)},
		Runtime: rt, Images: images, Address: "127.0.0.1",
		BackOffBase: time.Second, BackOffMax: 4 * time.Second, ResyncInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rt.Close()
		k.Run(ctx)
	}()
	e.mu.Lock()
	e.addr, e.stop, e.stopped = k.Addr().String(), cancel, done
	e.mu.Unlock()
}

// kill stops the kubelet; its containers keep running.
func (e *kubeletEnv) kill() {
	e.mu.Lock()
	stop, stopped := e.stop, e.stopped
	e.stop = nil
	e.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
}

func (e *kubeletEnv) pod(name string, restart corev1.RestartPolicy, script string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName: e.node, RestartPolicy: restart, TerminationGracePeriodSeconds: ptr.To(int64(2)),
			Containers: []corev1.Container{{Name: "main", Image: e.image, Command: []string{"sh", "-c", script}}},
		},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func (e *kubeletEnv) create(t *testing.T, ctx context.Context, p *corev1.Pod) {
	t.Helper()
	if _, err := e.core.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
}

// waitPodStatus polls the pod until cond holds, failing with the last
// status seen.
func (e *kubeletEnv) waitPodStatus(t *testing.T, ctx context.Context, name, what string, limit time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last *corev1.Pod
	for time.Now().Before(deadline) {
		p, err := e.core.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = p
			if cond(p) {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if evs, err := e.core.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name}); err == nil {
		for _, ev := range evs.Items {
			t.Logf("event %s %s: %s (x%d)", ev.Type, ev.Reason, ev.Message, ev.Count)
		}
	}
	if last != nil {
		t.Fatalf("pod %s: %s not reached in %s; phase %s, status %+v", name, what, limit, last.Status.Phase, last.Status.ContainerStatuses)
	}
	t.Fatalf("pod %s: %s not reached in %s", name, what, limit)
	return nil
}

// get reads a path of the kubelet's HTTP server.
func (e *kubeletEnv) get(t *testing.T, path string) string {
	t.Helper()
	e.mu.Lock()
	addr := e.addr
	e.mu.Unlock()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// logs reads a container's log from the kubelet's HTTP server.
func (e *kubeletEnv) logs(t *testing.T, pod, ctr, query string) (int, string) {
	t.Helper()
	e.mu.Lock()
	addr := e.addr
	e.mu.Unlock()
	resp, err := http.Get(fmt.Sprintf("http://%s/containerLogs/default/%s/%s?%s", addr, pod, ctr, query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func terminated(p *corev1.Pod, i int) *corev1.ContainerStateTerminated {
	if len(p.Status.ContainerStatuses) <= i {
		return nil
	}
	return p.Status.ContainerStatuses[i].State.Terminated
}

func terminatedInit(p *corev1.Pod, i int) *corev1.ContainerStateTerminated {
	if len(p.Status.InitContainerStatuses) <= i {
		return nil
	}
	return p.Status.InitContainerStatuses[i].State.Terminated
}

func kubeletCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Pods run to completion: Succeeded with exit code 0 and the logs, Failed
// with the container's exit code; a pod that keeps failing under
// restartPolicy Always is restarted with growing back-off.
func TestKubeletRunsPodsToCompletion(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	env.create(t, ctx, env.pod("ok", corev1.RestartPolicyNever, "echo hello from $(hostname); sleep 0.3; echo to-stderr >&2", nil))
	env.create(t, ctx, env.pod("fail", corev1.RestartPolicyNever, "exit 3", nil))
	env.create(t, ctx, env.pod("crash", corev1.RestartPolicyAlways, "echo attempt; exit 1", nil))
	env.create(t, ctx, env.pod("onfailure", corev1.RestartPolicyOnFailure, "test -e /tmp/x || { touch /tmp/x; exit 2; }", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	}))

	// Init containers run in order before the containers.
	env.create(t, ctx, env.pod("init", corev1.RestartPolicyNever, "cat /work/log", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
		mounts := []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}
		p.Spec.Containers[0].VolumeMounts = mounts
		for _, n := range []string{"first", "second"} {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n, Image: env.image,
				Command: []string{"sh", "-c", "echo " + n + " >> /work/log"}, VolumeMounts: mounts})
		}
	}))
	// An image that is not there: ErrImagePull, then ImagePullBackOff.
	missing := strings.SplitN(env.image, "/", 2)[0] + "/missing:1"
	env.create(t, ctx, env.pod("noimage", corev1.RestartPolicyAlways, "true", func(p *corev1.Pod) { p.Spec.Containers[0].Image = missing }))

	ok := env.waitPodStatus(t, ctx, "ok", "Succeeded", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if st := terminated(ok, 0); st == nil || st.ExitCode != 0 || st.Reason != "Completed" || !strings.HasPrefix(st.ContainerID, "shepherd://") {
		t.Errorf("ok: terminated state %+v", st)
	}
	if ok.Status.PodIP == "" || ok.Status.HostIP != "127.0.0.1" || ok.Status.StartTime == nil {
		t.Errorf("ok: podIP %q hostIP %q startTime %v", ok.Status.PodIP, ok.Status.HostIP, ok.Status.StartTime)
	}
	if code, out := env.logs(t, "ok", "main", ""); code != 200 || out != "hello from ok\nto-stderr\n" {
		t.Errorf("ok: logs %d %q", code, out)
	}
	if code, out := env.logs(t, "ok", "main", "timestamps=true&tailLines=1"); code != 200 || !strings.HasSuffix(out, " to-stderr\n") || strings.Contains(out, "hello") {
		t.Errorf("ok: logs with timestamps, tail 1: %d %q", code, out)
	}
	if code, out := env.logs(t, "ok", "nope", ""); code != 400 || !strings.Contains(out, "not valid") {
		t.Errorf("ok: logs of an unknown container: %d %q", code, out)
	}

	ini := env.waitPodStatus(t, ctx, "init", "Succeeded", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if _, out := env.logs(t, "init", "main", ""); out != "first\nsecond\n" {
		t.Errorf("init: main saw %q, want both init containers' lines in order", out)
	}
	if len(ini.Status.InitContainerStatuses) != 2 || terminatedInit(ini, 1) == nil || terminatedInit(ini, 1).Reason != "Completed" {
		t.Errorf("init: init container statuses %+v", ini.Status.InitContainerStatuses)
	}
	env.waitPodStatus(t, ctx, "noimage", "ImagePullBackOff", time.Minute, func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		reason := p.Status.ContainerStatuses[0].State.Waiting.Reason
		return reason == "ImagePullBackOff" && p.Status.Phase == corev1.PodPending
	})
	pullEvents, err := env.core.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=noimage"})
	if err != nil {
		t.Fatal(err)
	}
	var failedPull bool
	for _, ev := range pullEvents.Items {
		failedPull = failedPull || ev.Reason == "Failed" && strings.Contains(ev.Message, "Failed to pull image")
	}
	if !failedPull {
		t.Error("noimage: no Failed event for the pull")
	}

	fail := env.waitPodStatus(t, ctx, "fail", "Failed", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if st := terminated(fail, 0); st == nil || st.ExitCode != 3 || st.Reason != "Error" {
		t.Errorf("fail: terminated state %+v", st)
	}

	onf := env.waitPodStatus(t, ctx, "onfailure", "Succeeded after one restart", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if cs := onf.Status.ContainerStatuses[0]; cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 2 {
		t.Errorf("onfailure: %+v", cs)
	}

	// Back-off: the waiting reason between attempts is CrashLoopBackOff,
	// with the last attempt's exit as lastState.
	var sawBackOff bool
	crash := env.waitPodStatus(t, ctx, "crash", "restartCount 3", 90*time.Second, func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			sawBackOff = true
			if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 {
				t.Errorf("crash: in back-off with lastState %+v", cs.LastTerminationState)
			}
		}
		return cs.RestartCount >= 3
	})
	if !sawBackOff || crash.Status.Phase != corev1.PodRunning {
		t.Errorf("crash: back-off seen %v, phase %s", sawBackOff, crash.Status.Phase)
	}
	if code, out := env.logs(t, "crash", "main", "previous=true"); code != 200 || out != "attempt\n" {
		t.Errorf("crash: previous logs %d %q", code, out)
	}
	// The gaps between attempts grow (base 1 s doubling in this test).
	evs, err := env.core.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=crash"})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, ev := range evs.Items {
		reasons = append(reasons, ev.Reason)
	}
	if s := strings.Join(reasons, ","); !strings.Contains(s, "BackOff") || !strings.Contains(s, "Started") {
		t.Errorf("crash: events %s, want Started and BackOff", s)
	}
}

// Env and volumes from a ConfigMap and a Secret reach the container; the
// downward API gives the pod's name; a missing ConfigMap is
// CreateContainerConfigError until it exists.
func TestKubeletConfigMapsSecretsAndEnv(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	core := env.core.CoreV1()
	if _, err := core.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"greeting": "hello", "file.txt": "v1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec"}, Data: map[string][]byte{"password": []byte("s3cret")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	script := `echo "env $GREETING $PASSWORD $POD_NAME $CFG_file_txt"; cat /cfg/file.txt; echo; cat /sec/password; echo; cat /info/name; echo;
while true; do if [ "$(cat /cfg/file.txt)" = v2 ]; then echo updated; sleep 3600; fi; sleep 0.2; done`
	env.create(t, ctx, env.pod("cfg", corev1.RestartPolicyNever, script, func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Env = []corev1.EnvVar{
			{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "greeting"}}},
			{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "password"}}},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		}
		c.EnvFrom = []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}, {Name: "sec", MountPath: "/sec"}, {Name: "info", MountPath: "/info"}}
		p.Spec.Volumes = []corev1.Volume{
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
			{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
		}
	}))
	env.waitPodStatus(t, ctx, "cfg", "Running", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	want := "env hello s3cret cfg \nv1\ns3cret\ncfg\n"
	waitUntil(t, 30*time.Second, func() bool { _, out := env.logs(t, "cfg", "main", ""); return out == want })
	// A ConfigMap update reaches the mounted volume in place.
	cm, _ := core.ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{})
	cm.Data["file.txt"] = "v2"
	if _, err := core.ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, func() bool { _, out := env.logs(t, "cfg", "main", ""); return out == want+"updated\n" })

	// Missing ConfigMap: CreateContainerConfigError, then it runs once created.
	env.create(t, ctx, env.pod("late", corev1.RestartPolicyNever, "echo $LATE", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "LATE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "late"}, Key: "k"}}}}
	}))
	env.waitPodStatus(t, ctx, "late", "CreateContainerConfigError", time.Minute, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerConfigError" &&
			strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Message, `configmap "late" not found`)
	})
	if _, err := core.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}, Data: map[string]string{"k": "now"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.waitPodStatus(t, ctx, "late", "Succeeded", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if _, out := env.logs(t, "late", "main", ""); out != "now\n" {
		t.Errorf("late: logs %q", out)
	}
}

// Probes: a readiness probe gates Ready; a failing liveness probe
// restarts the container.
func TestKubeletProbes(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	// Healthy for about 2 s, then the liveness file goes away.
	env.create(t, ctx, env.pod("live", corev1.RestartPolicyAlways, "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600", func(p *corev1.Pod) {
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
			PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 5,
		}
	}))
	// An HTTP server that is ready once /www/ready exists.
	env.create(t, ctx, env.pod("ready", corev1.RestartPolicyAlways, "mkdir -p /www; (sleep 2; echo ok > /www/ready) & exec httpd -f -p 8080 -h /www", func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
		c.ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
			PeriodSeconds: 1, FailureThreshold: 1,
		}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1}
	}))
	var sawUnready bool
	env.waitPodStatus(t, ctx, "ready", "Ready", time.Minute, func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil && !p.Status.ContainerStatuses[0].Ready {
			sawUnready = true
		}
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	})
	if !sawUnready {
		t.Error("ready: never seen running and not ready before its readiness probe passed")
	}
	live := env.waitPodStatus(t, ctx, "live", "restarted by its liveness probe", time.Minute, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if lt := live.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 137 && lt.ExitCode != 143 {
		t.Errorf("live: lastState %+v, want killed", live.Status.ContainerStatuses[0].LastTerminationState)
	}
	evs, _ := env.core.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=live"})
	var unhealthy bool
	for _, ev := range evs.Items {
		unhealthy = unhealthy || ev.Reason == "Unhealthy" && strings.HasPrefix(ev.Message, "Liveness probe failed")
	}
	if !unhealthy {
		t.Error("live: no Unhealthy event")
	}
	// ready is still ready and was never restarted.
	p, _ := env.core.CoreV1().Pods("default").Get(ctx, "ready", metav1.GetOptions{})
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || !cs.Ready {
		t.Errorf("ready: %+v", cs)
	}
}

// Deletion: the preStop hook runs, the container gets SIGTERM, then SIGKILL after the grace
// period when it ignores it, and the pod object is removed.
func TestKubeletGracefulDeletion(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	hostDir := t.TempDir()
	env.create(t, ctx, env.pod("stubborn", corev1.RestartPolicyAlways, `trap 'echo TERM > /host/term' TERM; echo up > /host/up; while true; do sleep 0.1; done`, func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
		p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "test ! -e /host/term && echo prestop > /host/prestop"}}}}
	}))
	running := env.waitPodStatus(t, ctx, "stubborn", "Running", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	waitUntil(t, 30*time.Second, func() bool { _, err := os.Stat(filepath.Join(hostDir, "up")); return err == nil })
	pid := containerPid(t, env, running)
	if err := env.core.CoreV1().Pods("default").Delete(ctx, "stubborn", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(2))}); err != nil {
		t.Fatal(err)
	}
	// Deleting marks the pod; the kubelet sends SIGTERM ...
	waitUntil(t, 30*time.Second, func() bool { _, err := os.Stat(filepath.Join(hostDir, "term")); return err == nil })
	// The preStop hook ran in the container before the SIGTERM.
	if b, err := os.ReadFile(filepath.Join(hostDir, "prestop")); err != nil || string(b) != "prestop\n" {
		t.Errorf("preStop hook: %q, %v", b, err)
	}
	if p, err := env.core.CoreV1().Pods("default").Get(ctx, "stubborn", metav1.GetOptions{}); err != nil || p.DeletionTimestamp == nil {
		t.Fatalf("after SIGTERM, while the container ignores it, the pod should still exist marked for deletion: %v", err)
	}
	// ... then SIGKILL after the grace period, and removes the pod.
	waitUntil(t, 30*time.Second, func() bool {
		_, err := env.core.CoreV1().Pods("default").Get(ctx, "stubborn", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("container process %d still alive after the pod was removed", pid)
	}
}

// containerPid finds the host pid of a pod's first container.
func containerPid(t *testing.T, env *kubeletEnv, p *corev1.Pod) int {
	t.Helper()
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "shepherd://")
	rt, err := container.New(container.Config{Root: filepath.Join(env.root, "runtime")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	st, err := rt.State(id)
	if err != nil || st.Pid == 0 {
		t.Fatalf("container %s of pod %s: %v", id, p.Name, err)
	}
	return st.Pid
}

// A kubelet killed and started again adopts the running container (same
// process, not restarted), keeps its status right, and acts on what
// changed while it was down.
func TestKubeletRestartAdoptsContainers(t *testing.T) {
	env, ctx := newKubeletEnv(t), kubeletCtx(t)
	env.create(t, ctx, env.pod("survivor", corev1.RestartPolicyAlways, "echo started; sleep 3600", nil))
	env.create(t, ctx, env.pod("doomed", corev1.RestartPolicyAlways, "sleep 3600", nil))
	before := env.waitPodStatus(t, ctx, "survivor", "Running", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	doomed := env.waitPodStatus(t, ctx, "doomed", "Running", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	pid, doomedPid := containerPid(t, env, before), containerPid(t, env, doomed)
	// What Prometheus scrapes from the kubelet.
	metrics := env.get(t, "/metrics")
	for _, want := range []string{"kubelet_running_pods 2", `kubelet_running_containers{container_state="running"} 2`,
		`kubelet_node_name{node="` + env.node + `"} 1`, "kubelet_pod_start_sli_duration_seconds_count 2",
		`kubelet_runtime_operations_duration_seconds_count{operation_type="start_container"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if cadvisor := env.get(t, "/metrics/cadvisor"); !strings.Contains(cadvisor, `container_start_time_seconds{container="main",id="/`) ||
		!strings.Contains(cadvisor, `namespace="default",pod="survivor"}`) {
		t.Errorf("/metrics/cadvisor lacks survivor's container_start_time_seconds:\n%s", cadvisor)
	}
	if h := env.get(t, "/healthz"); h != "ok" {
		t.Errorf("/healthz: %q", h)
	}
	env.kill()
	// While it is down: doomed is force-deleted.
	if err := env.core.CoreV1().Pods("default").Delete(ctx, "doomed", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
		t.Fatal(err)
	}
	env.start(t)
	// The new kubelet leaves survivor's container alone ...
	time.Sleep(2 * time.Second)
	after := env.waitPodStatus(t, ctx, "survivor", "Running", time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if after.Status.ContainerStatuses[0].ContainerID != before.Status.ContainerStatuses[0].ContainerID ||
		after.Status.ContainerStatuses[0].RestartCount != 0 || containerPid(t, env, after) != pid {
		t.Errorf("survivor after the kubelet restart: %+v (pid before %d)", after.Status.ContainerStatuses[0], pid)
	}
	if syscall.Kill(pid, 0) != nil {
		t.Errorf("survivor's process %d is gone", pid)
	}
	if _, out := env.logs(t, "survivor", "main", ""); out != "started\n" {
		t.Errorf("survivor logs after the restart: %q", out)
	}
	// ... and stops the containers of the pod deleted while it was down.
	waitUntil(t, 30*time.Second, func() bool {
		rt, err := container.New(container.Config{Root: filepath.Join(env.root, "runtime")})
		if err != nil {
			return false
		}
		defer rt.Close()
		list, _ := rt.List()
		for _, st := range list {
			if st.Labels["io.kubernetes.pod.name"] == "doomed" {
				return false
			}
		}
		return true
	})
	if syscall.Kill(doomedPid, 0) == nil {
		t.Errorf("the container of a pod deleted while the kubelet was down still runs (pid %d)", doomedPid)
	}
}

func mustGet(t *testing.T, ctx context.Context, env *kubeletEnv, name string) *corev1.Pod {
	t.Helper()
	p, err := env.core.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
