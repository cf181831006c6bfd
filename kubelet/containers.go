package kubelet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/runtime/cgroups"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/runtime/image"
	"github.com/shepherd-lab/shepherd/storage"
)

// startContainer creates and starts the container's next attempt: image
// (per pull policy), environment, mounts, then the runtime. Failures
// before the runtime are waiting reasons Kubernetes users know
// (ErrImagePull, ImagePullBackOff, CreateContainerConfigError,
// CreateContainerError, RunContainerError).
func (w *podWorker) startContainer(ctx context.Context, pod *corev1.Pod, c *ctr) error {
	img, err := w.ensureImage(ctx, pod, c)
	if err != nil {
		return err
	}
	objs := storeObjects{Store: w.k.cfg.Store}
	services, err := w.k.serviceEnv(ctx, pod)
	var env []string
	if err == nil {
		env, err = containerEnv(ctx, objs, pod, c.spec, w.facts(pod), services)
	}
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			w.failed(pod, c, "CreateContainerConfigError", err)
		} else {
			w.failed(pod, c, "CreateContainerError", err)
		}
		return err
	}
	mounts, err := containerMounts(pod, c.spec, w.volumePaths, env)
	if err != nil {
		w.failed(pod, c, "CreateContainerConfigError", err)
		return err
	}
	if !mountsEtcHosts(c.spec) {
		hosts, err := w.hostsFile(pod)
		if err != nil {
			w.failed(pod, c, "CreateContainerError", fmt.Errorf("write the pod's hosts file: %w", err))
			return err
		}
		mounts = append(mounts, container.Mount{Destination: etcHostsPath, Source: hosts, Type: "bind"})
	}
	vars := envMap(env)
	argv, err := image.ResolveProcess(img.Config, expandCommand(c.spec.Command, vars), expandCommand(c.spec.Args, vars))
	if err != nil {
		w.failed(pod, c, "CreateContainerError", err)
		return err
	}
	lower, err := w.k.cfg.Images.LayerDirs(img)
	if err != nil {
		w.failed(pod, c, "CreateContainerError", err)
		return err
	}
	attempt := 0
	if c.cur != nil {
		attempt = c.attempt + 1
	}
	spec, err := buildSpec(pod, c.spec, img, argv, mergeEnv(img.Config.Env, env), mounts)
	if err != nil {
		w.failed(pod, c, "CreateContainerConfigError", err)
		return err
	}
	spec.Lower = lower
	spec.Sandbox = sandboxID(pod.UID)
	spec.Labels = map[string]string{
		labelPodUID: string(pod.UID), labelPodName: pod.Name, labelPodNamespace: pod.Namespace,
		labelContainerName: c.name, labelRestartCount: strconv.Itoa(attempt), labelImageID: img.ID,
	}
	if c.init {
		spec.Labels[labelInit] = "true"
	}
	logDir := filepath.Join(w.k.podDir(string(pod.UID)), "logs", c.name)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		w.failed(pod, c, "CreateContainerError", err)
		return err
	}
	spec.LogPath = filepath.Join(logDir, strconv.Itoa(attempt)+".log")
	os.Remove(spec.LogPath) // left by an attempt that failed to start
	if p := c.spec.TerminationMessagePath; p != "" {
		file := terminationMessageFile(w.k.podDir(string(pod.UID)), c.name, attempt)
		if err := makeTerminationMessageFile(file); err != nil {
			w.failed(pod, c, "CreateContainerError", err)
			return err
		}
		spec.Mounts = append(spec.Mounts, container.Mount{Destination: path.Clean("/" + p), Source: file, Type: "bind"})
	}

	t0 := time.Now()
	_, err = w.k.cfg.Runtime.Create(ctx, spec)
	w.k.metrics.runtimeOp("create_container", t0, err)
	if err != nil {
		w.failed(pod, c, "CreateContainerError", err)
		return err
	}
	t0 = time.Now()
	err = w.k.cfg.Runtime.Start(ctx, spec.ID)
	w.k.metrics.runtimeOp("start_container", t0, err)
	if err != nil {
		w.deleteContainer(ctx, spec.ID)
		w.failed(pod, c, "RunContainerError", err)
		return err
	}
	st, err := w.k.cfg.Runtime.State(spec.ID)
	if err != nil {
		return err
	}
	w.mu.Lock()
	old := c.prev
	c.prev, c.cur, c.attempt = c.cur, st, attempt
	c.waitReason, c.waitMessage = "", ""
	c.backoffUntil = time.Time{}
	c.ready, c.started, c.unhealthy = false, false, ""
	c.process, c.imageID = spec.Process, img.ID
	w.watchExit(ctx, c, st.ID)
	w.mu.Unlock()
	if old != nil {
		w.deleteContainer(ctx, old.ID)
		os.Remove(old.LogPath)
		os.Remove(terminationMessageFile(w.k.podDir(string(pod.UID)), c.name, attemptOf(old)))
	}
	w.k.events.Record(api.Pods, pod, corev1.EventTypeNormal, "Created", "Created container "+c.name)
	w.k.events.Record(api.Pods, pod, corev1.EventTypeNormal, "Started", "Started container "+c.name)
	if c.spec.Lifecycle != nil && c.spec.Lifecycle.PostStart != nil {
		c.startFailures = 0
		if err := runHandler(ctx, c.spec.Lifecycle.PostStart, w.target(pod, c, st.ID)); err != nil {
			msg := fmt.Sprintf("PostStartHook failed: %v", err)
			w.k.events.Record(api.Pods, pod, corev1.EventTypeWarning, "FailedPostStartHook", msg)
			w.stopContainer(ctx, pod, c, 0)
			return errors.New(msg)
		}
	}
	c.startFailures = 0
	w.startProbes(ctx, pod, c)
	return nil
}

// hostsFile writes the pod's /etc/hosts (see hostsFileContent) and
// returns its host path.
func (w *podWorker) hostsFile(pod *corev1.Pod) (string, error) {
	var nodeHosts []byte
	if pod.Spec.HostNetwork {
		var err error
		if nodeHosts, err = os.ReadFile(etcHostsPath); err != nil {
			return "", err
		}
	}
	content := hostsFileContent(pod, w.facts(pod).podIPs(), podHostname(pod), podDomain(pod, w.k.cfg.ClusterDomain), nodeHosts)
	return writeHostsFile(w.k.podDir(string(pod.UID)), content)
}

// failed records a container's failure to start as its waiting reason and
// a Warning event.
func (w *podWorker) failed(pod *corev1.Pod, c *ctr, reason string, err error) {
	w.setWaiting(c, reason, err.Error())
	w.backOffStart(c)
	w.k.events.Record(api.Pods, pod, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
}

// backOffStart spaces attempts to start a container that failed to
// start (image pulls included): BackOffBase doubling to BackOffMax.
func (w *podWorker) backOffStart(c *ctr) {
	c.startFailures++
	delay := w.k.cfg.BackOffBase << min(c.startFailures-1, 20)
	if delay > w.k.cfg.BackOffMax || delay <= 0 {
		delay = w.k.cfg.BackOffMax
	}
	c.startBackoffUntil = time.Now().Add(delay)
}

// ensureImage makes the container's image present per its pull policy.
func (w *podWorker) ensureImage(ctx context.Context, pod *corev1.Pod, c *ctr) (*image.Image, error) {
	ref := c.spec.Image
	policy := c.spec.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
		if !strings.Contains(ref, "@") && (!hasTag(ref) || strings.HasSuffix(ref, ":latest")) {
			policy = corev1.PullAlways
		}
	}
	if policy != corev1.PullAlways {
		if img, err := w.k.cfg.Images.Get(ref); err == nil {
			if c.startFailures > 0 || c.cur == nil {
				w.k.events.Record(api.Pods, pod, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", ref))
			}
			return img, nil
		} else if !errors.Is(err, image.ErrNotFound) {
			w.failed(pod, c, "ErrImagePull", err)
			return nil, err
		}
		if policy == corev1.PullNever {
			err := fmt.Errorf("container image %q is not present with pull policy of Never", ref)
			w.failed(pod, c, "ErrImageNeverPull", err)
			return nil, err
		}
	}
	w.k.events.Record(api.Pods, pod, corev1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", ref))
	secrets, err := w.pullSecrets(ctx, pod)
	if err != nil {
		w.log.Warn("read image pull secrets", "err", err)
	}
	t0 := time.Now()
	img, err := w.k.cfg.Images.Pull(ctx, ref, image.PullOptions{DockerConfigs: secrets})
	w.k.metrics.runtimeOp("pull_image", t0, err)
	w.pulling += time.Since(t0)
	if err != nil {
		w.k.events.Record(api.Pods, pod, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %v", ref, err))
		w.setWaiting(c, "ErrImagePull", err.Error())
		w.backOffStart(c)
		return nil, err
	}
	w.k.events.Record(api.Pods, pod, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q in %s. Image size: %d bytes.", ref, time.Since(t0).Round(time.Millisecond), img.Size))
	return img, nil
}

// hasTag says whether an image reference names a tag.
func hasTag(ref string) bool {
	last := ref[strings.LastIndex(ref, "/")+1:]
	return strings.Contains(last, ":")
}

// pullSecrets reads the pod's imagePullSecrets (dockerconfigjson and
// legacy dockercfg secrets); missing ones are skipped, as Kubernetes does.
func (w *podWorker) pullSecrets(ctx context.Context, pod *corev1.Pod) ([][]byte, error) {
	var out [][]byte
	var errs []error
	objs := storeObjects{Store: w.k.cfg.Store}
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := objs.Secret(ctx, pod.Namespace, ref.Name)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, key := range []string{corev1.DockerConfigJsonKey, corev1.DockerConfigKey} {
			if b := s.Data[key]; len(b) > 0 {
				out = append(out, b)
			}
		}
	}
	return out, errors.Join(errs...)
}

// mergeEnv is the image's environment overridden by the container's.
func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	index := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// buildSpec turns a pod's container into a runtime Spec: process, user,
// capabilities, seccomp, limits and mounts (Lower, Sandbox and labels
// are the caller's).
func buildSpec(pod *corev1.Pod, c *corev1.Container, img *image.Image, argv, env []string, mounts []container.Mount) (*container.Spec, error) {
	id := make([]byte, 16)
	rand.Read(id)
	spec := &container.Spec{
		ID: hex.EncodeToString(id), Image: c.Image, Mounts: mounts,
		Process: container.Process{Args: argv, Env: env, Cwd: img.Config.WorkingDir, User: img.Config.User},
	}
	if c.WorkingDir != "" {
		spec.Process.Cwd = c.WorkingDir
	}
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	uid, gid := sc.RunAsUser, sc.RunAsGroup
	if uid == nil {
		uid = psc.RunAsUser
	}
	if gid == nil {
		gid = psc.RunAsGroup
	}
	if uid != nil {
		spec.Process.UID = ptrU32(*uid)
	}
	if gid != nil {
		spec.Process.GID = ptrU32(*gid)
	}
	for _, g := range psc.SupplementalGroups {
		spec.Process.AdditionalGids = append(spec.Process.AdditionalGids, uint32(g))
	}
	if psc.FSGroup != nil {
		spec.Process.AdditionalGids = append(spec.Process.AdditionalGids, uint32(*psc.FSGroup))
	}
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	if nonRoot != nil && *nonRoot {
		switch {
		case uid != nil && *uid == 0:
			return nil, errors.New("container's runAsUser breaks non-root policy")
		case uid == nil && !numericNonRoot(img.Config.User):
			return nil, fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%q), cannot verify user is non-root", img.Config.User)
		}
	}
	if sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Add {
			spec.Process.CapAdd = append(spec.Process.CapAdd, string(c))
		}
		for _, c := range sc.Capabilities.Drop {
			spec.Process.CapDrop = append(spec.Process.CapDrop, string(c))
		}
	}
	spec.Privileged = sc.Privileged != nil && *sc.Privileged
	spec.ReadonlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	spec.Process.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	profile := sc.SeccompProfile
	if profile == nil {
		profile = psc.SeccompProfile
	}
	if profile != nil {
		switch profile.Type {
		case corev1.SeccompProfileTypeRuntimeDefault:
			spec.Seccomp = container.SeccompRuntimeDefault
		case corev1.SeccompProfileTypeUnconfined:
			spec.Seccomp = container.SeccompUnconfined
		default:
			return nil, fmt.Errorf("seccomp profile type %q is not supported by Shepherd's runtime", profile.Type)
		}
	}
	spec.Resources = containerResources(c)
	return spec, nil
}

func ptrU32(v int64) *uint32 { u := uint32(v); return &u }

// numericNonRoot: an image user given as a non-zero number.
func numericNonRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	n, err := strconv.ParseUint(u, 10, 32)
	return err == nil && n != 0
}

// containerResources maps requests and limits to cgroup settings as
// Kubernetes does: cpu limit → cpu.max quota, cpu request → weight (from
// shares), memory limit → memory.max.
func containerResources(c *corev1.Container) cgroups.Resources {
	var r cgroups.Resources
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CPUPeriod = 100000
		r.CPUQuota = cgroups.MilliCPUToQuota(q.MilliValue(), r.CPUPeriod)
	}
	req, ok := c.Resources.Requests[corev1.ResourceCPU]
	if !ok {
		req, ok = c.Resources.Limits[corev1.ResourceCPU]
	}
	if ok {
		r.CPUWeight = cgroups.SharesToWeight(cgroups.MilliCPUToShares(req.MilliValue()))
	}
	if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryMax = m.Value()
	}
	return r
}

// target says how probes and hooks reach the container.
func (w *podWorker) target(pod *corev1.Pod, c *ctr, id string) probeTarget {
	w.mu.Lock()
	proc := c.process
	w.mu.Unlock()
	t := probeTarget{NetNS: w.k.cfg.Runtime.SandboxNamespacePath(sandboxID(pod.UID), "net"), Host: "127.0.0.1", Container: c.spec}
	t.Exec = func(ctx context.Context, cmd []string) (int, []byte, error) {
		var out bytes.Buffer
		p := proc
		p.Args = cmd
		lb := &limitedBuffer{b: &out, max: 10 << 10}
		code, err := w.k.cfg.Runtime.Exec(ctx, id, p, lb, lb)
		if err != nil && ctx.Err() == nil && !errors.Is(err, container.ErrNotRunning) && !errors.Is(err, container.ErrNotFound) {
			// The command could not be started (not found, bad user):
			// a failed probe, as runc's exit 127 makes it for Kubernetes.
			return 127, []byte(err.Error()), nil
		}
		return code, out.Bytes(), err
	}
	return t
}

// limitedBuffer keeps the first max bytes written and discards the rest.
type limitedBuffer struct {
	mu  sync.Mutex
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// startProbes starts the container's probes; they stop when the attempt
// exits. With a startup probe, liveness and readiness start only once it
// has succeeded, as Kubernetes does.
func (w *podWorker) startProbes(ctx context.Context, pod *corev1.Pod, c *ctr) {
	if c.init && !isSidecar(c.spec) {
		return
	}
	w.mu.Lock()
	if c.cur == nil || c.cur.Status != container.StatusRunning {
		w.mu.Unlock()
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	if c.stopProbes != nil {
		c.stopProbes()
	}
	c.stopProbes, c.probeCtx = cancel, pctx
	w.mu.Unlock()
	if c.spec.StartupProbe != nil {
		w.launchProbes(pod, c, probeStartup)
		return
	}
	w.launchProbes(pod, c, probeLiveness, probeReadiness)
}

// launchProbes starts probe workers of the given kinds for the current
// attempt, under its probe context.
func (w *podWorker) launchProbes(pod *corev1.Pod, c *ctr, kinds ...probeKind) {
	w.mu.Lock()
	if c.cur == nil || c.probeCtx == nil || c.probeCtx.Err() != nil {
		w.mu.Unlock()
		return
	}
	id, started, pctx := c.cur.ID, c.cur.StartedAt, c.probeCtx
	w.mu.Unlock()
	t := w.target(pod, c, id)
	for _, kind := range kinds {
		probe := map[probeKind]*corev1.Probe{probeLiveness: c.spec.LivenessProbe, probeReadiness: c.spec.ReadinessProbe, probeStartup: c.spec.StartupProbe}[kind]
		if probe == nil {
			continue
		}
		w.bg.Add(1)
		go func() {
			defer w.bg.Done()
			runProbeWorker(pctx, kind, probe, started, t, func(r probeResult, msg string, changed bool) {
				w.onProbe(pod, c, id, kind, r, msg, changed)
			})
		}()
	}
}

func (w *podWorker) onProbe(pod *corev1.Pod, c *ctr, id string, kind probeKind, r probeResult, msg string, changed bool) {
	if r == probeFailure {
		w.k.events.Record(api.Pods, pod, corev1.EventTypeWarning, "Unhealthy", kind.String()+" probe failed: "+msg)
	}
	if !changed {
		return
	}
	w.mu.Lock()
	if c.cur == nil || c.cur.ID != id {
		w.mu.Unlock()
		return
	}
	switch kind {
	case probeReadiness:
		c.ready = r == probeSuccess
	case probeStartup:
		if r == probeSuccess {
			c.started = true
			w.mu.Unlock()
			w.launchProbes(pod, c, probeLiveness, probeReadiness)
			w.wake()
			return
		} else if r == probeFailure {
			c.unhealthy = "failed startup probe"
		}
	case probeLiveness:
		if r == probeFailure {
			c.unhealthy = "failed liveness probe"
		}
	}
	w.mu.Unlock()
	w.wake()
}

// probeGrace is the grace period of a kill after a failed probe.
func probeGrace(pod *corev1.Pod, c *corev1.Container, why string) time.Duration {
	var p *corev1.Probe
	if c != nil {
		p = c.LivenessProbe
		if strings.Contains(why, "startup") {
			p = c.StartupProbe
		}
	}
	if p != nil && p.TerminationGracePeriodSeconds != nil {
		return time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
	}
	return podGrace(pod)
}

func podGrace(pod *corev1.Pod) time.Duration {
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// stopContainer stops the current attempt: preStop hook, SIGTERM, the
// grace period, SIGKILL. It returns once the process has exited (or ctx
// ends).
func (w *podWorker) stopContainer(ctx context.Context, pod *corev1.Pod, c *ctr, grace time.Duration) {
	w.mu.Lock()
	cur, exited := c.cur, c.exited
	w.mu.Unlock()
	if cur == nil || exited == nil || cur.Status != container.StatusRunning {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	deadline := time.Now().Add(grace)
	if c.spec != nil && c.spec.Lifecycle != nil && c.spec.Lifecycle.PreStop != nil && grace > 0 && pod != nil {
		hctx, cancel := context.WithDeadline(ctx, deadline)
		if err := runHandler(hctx, c.spec.Lifecycle.PreStop, w.target(pod, c, cur.ID)); err != nil && hctx.Err() == nil {
			w.k.events.Record(api.Pods, pod, corev1.EventTypeWarning, "FailedPreStopHook", fmt.Sprintf("PreStopHook failed: %v", err))
		}
		cancel()
	}
	t0 := time.Now()
	defer func() { w.k.metrics.runtimeOp("stop_container", t0, nil) }()
	if grace > 0 {
		w.k.cfg.Runtime.Signal(cur.ID, syscall.SIGTERM)
		select {
		case <-exited:
			return
		case <-ctx.Done():
			return
		case <-time.After(time.Until(deadline)):
		}
	}
	w.k.cfg.Runtime.Signal(cur.ID, syscall.SIGKILL)
	select {
	case <-exited:
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		w.log.Warn("container did not exit after SIGKILL", "container", c.name, "id", cur.ID)
	}
}

func (w *podWorker) deleteContainer(ctx context.Context, id string) {
	t0 := time.Now()
	err := w.k.cfg.Runtime.Delete(ctx, id, true)
	if errors.Is(err, container.ErrNotFound) {
		err = nil
	}
	w.k.metrics.runtimeOp("remove_container", t0, err)
	if err != nil {
		w.log.Warn("delete container", "id", id, "err", err)
	}
}

// terminate stops every container (in parallel, each with the pod's
// deletion grace period), removes them, the sandbox and the pod's
// directory, then the pod object from etcd. It returns true once all of
// that is done.
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod, gone bool) bool {
	grace := w.k.cfg.OrphanGrace
	if pod != nil && !gone {
		grace = podGrace(pod)
		if pod.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		}
	}
	ctrs := w.sortedCtrs()
	var wg sync.WaitGroup
	for _, c := range ctrs {
		w.mu.Lock()
		running := c.cur != nil && c.cur.Status == container.StatusRunning && c.exited != nil
		w.mu.Unlock()
		if !running {
			continue
		}
		if pod != nil {
			w.k.events.Record(api.Pods, pod, corev1.EventTypeNormal, "Killing", "Stopping container "+c.name)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.stopContainer(ctx, pod, c, grace)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false
	}
	w.stopAllProbes()
	var ids []string
	w.mu.Lock()
	for _, c := range ctrs {
		for _, st := range []*container.State{c.prev, c.cur} {
			if st != nil {
				ids = append(ids, st.ID)
			}
		}
	}
	w.mu.Unlock()
	for _, id := range ids {
		w.deleteContainer(ctx, id)
	}
	if err := w.k.cfg.Runtime.RemoveSandbox(sandboxID(w.uid)); err != nil {
		w.log.Warn("remove sandbox", "err", err)
		return false
	}
	if err := w.k.volumes().Teardown(w.uid); err != nil {
		w.log.Warn("tear down volumes", "err", err)
		return false
	}
	if pod == nil || gone {
		return true
	}
	if err := removePod(ctx, w.k.cfg.Store, w.k.cfg.Admission, pod); err != nil {
		w.log.Warn("remove pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return false
	}
	w.log.Info("pod removed", "pod", pod.Namespace+"/"+pod.Name)
	return true
}
