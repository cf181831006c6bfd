package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/storage"
)

// podWorker brings one pod's containers to what its spec asks and reports
// their status. Its goroutine (run) is the only writer of the container
// records; the HTTP server and metrics read them under mu.
type podWorker struct {
	m   *podManager
	k   *Kubelet
	uid types.UID
	log *slog.Logger

	mu   sync.Mutex
	pod  *corev1.Pod // newest version seen; nil for an orphan
	gone bool        // the pod is no longer in etcd
	ctrs map[string]*ctr
	kick chan struct{}

	// Owned by run.
	adopted      []*container.State
	sandboxReady bool
	volumePaths  map[string]string
	volumesAt    time.Time
	terminal     bool           // a final phase was written: nothing is restarted
	startLogged  bool           // the pod start SLI was observed
	pulling      time.Duration  // spent pulling images, excluded from the SLI
	bg           sync.WaitGroup // exit waiters and probers
}

// ctr is the kubelet's record of one container of the pod.
type ctr struct {
	name string
	init bool
	spec *corev1.Container
	// cur is the latest attempt (nil before the first), prev the one
	// before; older attempts are deleted.
	cur, prev *container.State
	attempt   int
	// exited is closed when cur's process has exited.
	exited chan struct{}
	// process is what cur runs (for exec probes and hooks).
	process container.Process
	imageID string
	// messages are the termination messages of finished attempts (cur,
	// prev), by container ID, read once each.
	messages map[string]string

	waitReason, waitMessage string
	backoffUntil            time.Time
	startFailures           int // failures to start since the last start
	startBackoffUntil       time.Time

	stopProbes      context.CancelFunc
	probeCtx        context.Context // the current attempt's probes run under it
	ready, started  bool            // from probes
	unhealthy       string          // liveness or startup failure, when set: kill and restart
	hasReadiness    bool
	hasStartupProbe bool
}

func newPodWorker(m *podManager, uid types.UID, adopted []*container.State) *podWorker {
	return &podWorker{
		m: m, k: m.k, uid: uid, log: m.k.log.With("podUID", string(uid)),
		ctrs: map[string]*ctr{}, kick: make(chan struct{}, 1), adopted: adopted,
	}
}

func (w *podWorker) setPod(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.wake()
}

func (w *podWorker) setGone() {
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	w.wake()
}

func (w *podWorker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *podWorker) run(ctx context.Context) {
	defer w.bg.Wait()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.adopt(wctx)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-timer.C:
		}
		done, next := w.sync(wctx)
		if done {
			cancel()
			w.bg.Wait()
			w.m.finished(w.uid)
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// adopt takes over the containers a previous kubelet left running: the
// newest attempt of each container is its current one, the one before
// its previous; older ones and half-created ones are deleted.
func (w *podWorker) adopt(ctx context.Context) {
	if len(w.adopted) == 0 {
		return
	}
	byName := map[string][]*container.State{}
	for _, st := range w.adopted {
		if st.Status == container.StatusCreating || st.Status == container.StatusCreated {
			w.deleteContainer(ctx, st.ID)
			continue
		}
		byName[st.Labels[labelContainerName]] = append(byName[st.Labels[labelContainerName]], st)
	}
	w.adopted = nil
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, states := range byName {
		sort.Slice(states, func(i, j int) bool { return attemptOf(states[i]) > attemptOf(states[j]) })
		c := &ctr{name: name, init: states[0].Labels[labelInit] == "true", cur: states[0], attempt: attemptOf(states[0]), imageID: states[0].Labels[labelImageID]}
		if len(states) > 1 {
			c.prev = states[1]
		}
		for _, old := range states[min(2, len(states)):] {
			w.deleteContainer(ctx, old.ID)
		}
		if spec, err := w.k.cfg.Runtime.Spec(c.cur.ID); err == nil {
			c.process = spec.Process
		}
		w.ctrs[name] = c
		if c.cur.Status == container.StatusRunning {
			w.watchExit(ctx, c, c.cur.ID)
		}
	}
	// The sandbox is checked (and made again if it lost its namespaces)
	// by the first sync's ensureSandbox.
	w.log.Info("adopted containers", "count", len(byName))
}

// sync does one round of work and says whether the worker is done (the
// pod is torn down) and when to sync again at the latest.
func (w *podWorker) sync(ctx context.Context) (bool, time.Duration) {
	w.mu.Lock()
	pod, gone := w.pod, w.gone
	w.mu.Unlock()
	if pod == nil && !gone {
		// Not given its pod yet (the podManager gives it before the first
		// sync): nothing to do, and nothing to tear down.
		return false, w.k.cfg.ResyncInterval
	}
	if gone || pod == nil || pod.DeletionTimestamp != nil {
		return w.terminate(ctx, pod, gone), time.Second
	}
	if pod.Spec.NodeName != w.k.cfg.Name {
		return w.terminate(ctx, pod, true), time.Second
	}
	now := time.Now()
	w.syncRecords(pod)
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		w.terminal = true
		w.stopAllProbes()
		return false, w.k.cfg.ResyncInterval
	}
	if w.terminal {
		// The final phase is decided but not yet in etcd (the write
		// failed): nothing restarts; write it again.
		w.writeStatus(ctx, pod, now)
		return false, 2 * time.Second
	}
	next := w.k.cfg.ResyncInterval
	if err := w.ensureSandbox(ctx, pod); err != nil {
		w.log.Warn("create sandbox", "err", err)
		w.k.events.Record(api.Pods, pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: "+err.Error())
		w.writeStatus(ctx, pod, now)
		return false, 2 * time.Second
	}
	if w.volumePaths == nil || now.Sub(w.volumesAt) >= w.k.cfg.ResyncInterval {
		paths, err := w.k.volumes().Setup(ctx, pod, w.facts(pod))
		if err != nil {
			w.k.events.Record(api.Pods, pod, corev1.EventTypeWarning, "FailedMount", err.Error())
			if w.volumePaths == nil {
				w.writeStatus(ctx, pod, now)
				return false, 2 * time.Second
			}
		} else {
			w.volumePaths, w.volumesAt = paths, now
		}
	}
	// Containers whose liveness or startup probe failed are stopped;
	// they are then restarted like any exited container.
	for _, c := range w.sortedCtrs() {
		w.mu.Lock()
		why := c.unhealthy
		c.unhealthy = ""
		w.mu.Unlock()
		if why != "" && c.cur != nil && c.cur.Status == container.StatusRunning {
			w.k.events.Record(api.Pods, pod, corev1.EventTypeNormal, "Killing", fmt.Sprintf("Container %s %s, will be restarted", c.name, why))
			w.stopContainer(ctx, pod, c, probeGrace(pod, c.spec, why))
		}
	}
	initDone := true
	for i := range pod.Spec.InitContainers {
		spec := &pod.Spec.InitContainers[i]
		c := w.ctrs[spec.Name]
		if isSidecar(spec) {
			if d := w.keepRunning(ctx, pod, c, true); d > 0 && d < next {
				next = d
			}
			if c.cur == nil || c.cur.Status != container.StatusRunning {
				initDone = false
				break
			}
			continue
		}
		if exitedOK(c.cur) {
			continue
		}
		initDone = false
		if c.cur != nil && c.cur.Status == container.StatusRunning {
			break
		}
		if c.cur != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			break // failed for good: the pod fails
		}
		if d := w.keepRunning(ctx, pod, c, true); d > 0 && d < next {
			next = d
		}
		break
	}
	if initDone {
		for i := range pod.Spec.Containers {
			c := w.ctrs[pod.Spec.Containers[i].Name]
			if d := w.keepRunning(ctx, pod, c, shouldRestart(pod, c)); d > 0 && d < next {
				next = d
			}
		}
	} else {
		for i := range pod.Spec.Containers {
			c := w.ctrs[pod.Spec.Containers[i].Name]
			w.mu.Lock()
			if c.cur == nil {
				c.waitReason, c.waitMessage = "PodInitializing", ""
			}
			w.mu.Unlock()
		}
	}
	phase := w.writeStatus(ctx, pod, now)
	if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		w.terminal = true
		w.stopAllProbes()
	}
	return false, next
}

// readTerminationMessages reads the termination message of each attempt
// that has finished since the last time (or was found finished when the
// kubelet started), once each.
func (w *podWorker) readTerminationMessages(pod *corev1.Pod) {
	podDir := w.k.podDir(string(pod.UID))
	for _, c := range w.sortedCtrs() {
		w.mu.Lock()
		spec, states := c.spec, []*container.State{c.cur, c.prev}
		var todo []*container.State
		for _, st := range states {
			if _, done := c.messages[stID(st)]; finished(st) && !done {
				todo = append(todo, st)
			}
		}
		w.mu.Unlock()
		for _, st := range todo {
			file, code := "", 0
			if spec != nil && spec.TerminationMessagePath != "" {
				file = terminationMessageFile(podDir, c.name, attemptOf(st))
			}
			if st.Exit != nil {
				code = st.Exit.ExitCode
			}
			msg := readTerminationMessage(file, fallsBackToLogs(spec, code), st.LogPath)
			w.mu.Lock()
			if c.messages == nil {
				c.messages = map[string]string{}
			}
			c.messages[st.ID] = msg
			for id := range c.messages {
				if id != stID(c.cur) && id != stID(c.prev) {
					delete(c.messages, id) // an attempt deleted since
				}
			}
			w.mu.Unlock()
		}
	}
}

func stID(st *container.State) string {
	if st == nil {
		return ""
	}
	return st.ID
}

// syncRecords makes a record for every container of the spec.
func (w *podWorker) syncRecords(pod *corev1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range pod.Spec.InitContainers {
		w.record(&pod.Spec.InitContainers[i], true)
	}
	for i := range pod.Spec.Containers {
		w.record(&pod.Spec.Containers[i], false)
	}
}

func (w *podWorker) record(spec *corev1.Container, init bool) {
	c := w.ctrs[spec.Name]
	if c == nil {
		c = &ctr{name: spec.Name, init: init}
		w.ctrs[spec.Name] = c
	}
	c.spec = spec
	// A regular init container's readiness probe is ignored (its
	// readiness is having completed); a sidecar's counts.
	c.hasReadiness = spec.ReadinessProbe != nil && (!init || isSidecar(spec))
	c.hasStartupProbe = spec.StartupProbe != nil
}

func (w *podWorker) sortedCtrs() []*ctr {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*ctr, 0, len(w.ctrs))
	for _, c := range w.ctrs {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// shouldRestart applies the restart policy to a regular container's
// finished attempt.
func shouldRestart(pod *corev1.Pod, c *ctr) bool {
	if c.spec != nil && c.spec.RestartPolicy != nil {
		return *c.spec.RestartPolicy == corev1.ContainerRestartPolicyAlways
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return !exitedOK(c.cur)
	default:
		return true
	}
}

// keepRunning starts the container's first attempt, or the next one when
// the last has finished and restart says so, honouring back-off. It
// returns how long until it should be looked at again (0: no hurry).
func (w *podWorker) keepRunning(ctx context.Context, pod *corev1.Pod, c *ctr, restart bool) time.Duration {
	now := time.Now()
	if c.cur != nil && !finished(c.cur) {
		return 0
	}
	if c.cur != nil && !restart {
		w.mu.Lock()
		c.waitReason, c.waitMessage = "", ""
		w.mu.Unlock()
		return 0
	}
	if c.cur != nil {
		// Back-off: base doubled per restart, capped; a container that
		// ran for over twice the cap starts over.
		if c.backoffUntil.IsZero() {
			delay := w.k.cfg.BackOffBase << min(c.attempt, 20)
			if delay > w.k.cfg.BackOffMax || delay <= 0 {
				delay = w.k.cfg.BackOffMax
			}
			if ex := c.cur.Exit; ex != nil && ex.FinishedAt.Sub(c.cur.StartedAt) > 2*w.k.cfg.BackOffMax {
				delay = w.k.cfg.BackOffBase
			}
			c.backoffUntil = finishedAt(c.cur).Add(delay)
		}
		if now.Before(c.backoffUntil) {
			if w.setWaiting(c, "CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
				roundDuration(c.backoffUntil.Sub(finishedAt(c.cur))), c.name, pod.Name, pod.Namespace, pod.UID)) {
				w.k.events.Record(api.Pods, pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container "+c.name+" in pod "+pod.Name+"_"+pod.Namespace+"("+string(pod.UID)+")")
			}
			return c.backoffUntil.Sub(now)
		}
	}
	if now.Before(c.startBackoffUntil) {
		if c.waitReason == "ErrImagePull" {
			w.setWaiting(c, "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q", c.spec.Image))
			w.k.events.Record(api.Pods, pod, corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", c.spec.Image))
		}
		return c.startBackoffUntil.Sub(now)
	}
	if err := w.startContainer(ctx, pod, c); err != nil {
		w.log.Info("start container", "pod", pod.Namespace+"/"+pod.Name, "container", c.name, "err", err)
		return 2 * time.Second
	}
	return 0
}

func finishedAt(st *container.State) time.Time {
	if st.Exit != nil && !st.Exit.FinishedAt.IsZero() {
		return st.Exit.FinishedAt
	}
	return st.StartedAt
}

func roundDuration(d time.Duration) time.Duration { return d.Round(time.Second) }

// setWaiting records why a container is not running; it reports whether
// the reason is new (for events).
func (w *podWorker) setWaiting(c *ctr, reason, msg string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := c.waitReason != reason
	c.waitReason, c.waitMessage = reason, msg
	return changed
}

// watchExit waits for the container's exit, then records it and wakes the
// worker.
func (w *podWorker) watchExit(ctx context.Context, c *ctr, id string) {
	ch := make(chan struct{})
	c.exited = ch
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		if _, err := w.k.cfg.Runtime.Wait(ctx, id); err != nil && ctx.Err() != nil {
			return
		}
		st, err := w.k.cfg.Runtime.State(id)
		w.mu.Lock()
		if err == nil && c.cur != nil && c.cur.ID == id {
			c.cur = st
			c.backoffUntil = time.Time{}
			c.ready = false
		}
		if c.stopProbes != nil && c.cur != nil && c.cur.ID == id {
			c.stopProbes()
			c.stopProbes = nil
		}
		w.mu.Unlock()
		close(ch)
		w.wake()
	}()
}

func (w *podWorker) stopAllProbes() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.ctrs {
		if c.stopProbes != nil {
			c.stopProbes()
			c.stopProbes = nil
		}
	}
}

// podFacts are the inputs of env and downward API values.
func (w *podWorker) facts(pod *corev1.Pod) podFacts {
	return podFacts{PodIP: w.podIP(pod), HostIP: w.k.hostIP(), NodeAllocatable: w.k.allocatable()}
}

// podIP is a placeholder derived from the UID until pods get real
// addresses from the pod network.
func (w *podWorker) podIP(pod *corev1.Pod) string {
	if pod.Spec.HostNetwork {
		return w.k.hostIP()
	}
	return placeholderIP(pod)
}

func (w *podWorker) ensureSandbox(ctx context.Context, pod *corev1.Pod) error {
	if w.sandboxReady {
		return nil
	}
	hostname := podHostname(pod)
	if pod.Spec.HostNetwork {
		w.k.events.Record(api.Pods, pod, corev1.EventTypeWarning, "HostNetworkUnsupported",
			"hostNetwork is not supported by Shepherd's kubelet yet: the pod gets its own network namespace")
	}
	rt, id := w.k.cfg.Runtime, sandboxID(pod.UID)
	err := rt.CreateSandbox(ctx, id, hostname)
	if errors.Is(err, container.ErrAlreadyExists) {
		// Made before (this kubelet restarted): use it if it still holds
		// its namespaces (a reboot or an unmount undoes them), else make
		// it again.
		if err = rt.CheckSandbox(id); err != nil {
			w.log.Info("sandbox lost its namespaces; making it again", "sandbox", id, "err", err)
			if err = rt.RemoveSandbox(id); err == nil {
				err = rt.CreateSandbox(ctx, id, hostname)
			}
		}
	}
	if err != nil {
		return err
	}
	w.sandboxReady = true
	return nil
}

// view snapshots the records for status computation. unread says a
// finished attempt's termination message is not read yet (it finished
// after the last readTerminationMessages).
func (w *podWorker) view(pod *corev1.Pod, now time.Time) (v *podView, unread bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v = &podView{SandboxReady: w.sandboxReady, HostIP: w.k.hostIP(), StartTime: now}
	if w.sandboxReady {
		v.PodIP = w.podIP(pod)
	}
	mk := func(spec *corev1.Container) containerView {
		cv := containerView{Name: spec.Name, Image: spec.Image}
		c := w.ctrs[spec.Name]
		if c == nil {
			return cv // waiting: computeStatus gives the default reason
		}
		cv.Cur, cv.Prev, cv.RestartCount = c.cur, c.prev, int32(c.attempt)
		var read bool
		if cv.Message, read = c.messages[stID(c.cur)]; finished(c.cur) && !read {
			unread = true
		}
		if cv.PrevMessage, read = c.messages[stID(c.prev)]; finished(c.prev) && !read {
			unread = true
		}
		cv.ImageID = c.imageID
		cv.WaitReason, cv.WaitMessage = c.waitReason, c.waitMessage
		if c.cur != nil && c.cur.Status == container.StatusRunning {
			cv.WaitReason, cv.WaitMessage = "", ""
			cv.Started = c.started || !c.hasStartupProbe
			cv.Ready = cv.Started && (c.ready || !c.hasReadiness)
		}
		return cv
	}
	for i := range pod.Spec.InitContainers {
		v.Init = append(v.Init, mk(&pod.Spec.InitContainers[i]))
	}
	for i := range pod.Spec.Containers {
		v.Containers = append(v.Containers, mk(&pod.Spec.Containers[i]))
	}
	return v, unread
}

// writeStatus computes the pod's status and writes it when it differs
// from what etcd has (compare-and-swap on the pod's revision, retried on
// conflict). It returns the phase.
func (w *podWorker) writeStatus(ctx context.Context, pod *corev1.Pod, now time.Time) corev1.PodPhase {
	// An attempt's termination message is read before its terminated
	// state is first reported: a final phase is written once, and never
	// again with the message. (Exits land concurrently: read again until
	// the snapshot has every message.)
	var v *podView
	for range 5 {
		w.readTerminationMessages(pod)
		var unread bool
		if v, unread = w.view(pod, now); !unread {
			break
		}
	}
	want := computeStatus(pod, v, now)
	if !w.startLogged && want.Phase == corev1.PodRunning && allStarted(want.ContainerStatuses) {
		w.startLogged = true
		w.k.metrics.podStarted(pod, now, w.pulling)
	}
	if apiequality.Semantic.DeepEqual(&want, &pod.Status) {
		return want.Phase
	}
	pods := storage.NewTyped[*corev1.Pod](w.k.cfg.Store, api.Pods.Storage)
	_, err := pods.GuaranteedUpdate(ctx, pod.Namespace, pod.Name, func(cur *corev1.Pod) (*corev1.Pod, error) {
		if cur.UID != pod.UID {
			return nil, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, errReplaced)
		}
		if cur.Status.Phase == corev1.PodSucceeded || cur.Status.Phase == corev1.PodFailed {
			return nil, errReplaced // a final phase is never changed
		}
		next := cur.DeepCopy()
		next.Status = computeStatus(cur, v, now)
		if apiequality.Semantic.DeepEqual(&next.Status, &cur.Status) {
			return nil, errUnchanged
		}
		return next, w.k.cfg.Admission.UpdateStatus(ctx, api.Pods, next, cur)
	})
	switch {
	case err == nil:
	case errors.Is(err, errUnchanged), errors.Is(err, errReplaced), errors.Is(err, storage.ErrNotFound):
	default:
		if ctx.Err() == nil {
			w.log.Warn("write pod status", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	}
	return want.Phase
}

var (
	errUnchanged = errors.New("status unchanged")
	errReplaced  = errors.New("pod replaced or finished")
)

func allStarted(cs []corev1.ContainerStatus) bool {
	for _, c := range cs {
		if c.State.Running == nil {
			return false
		}
	}
	return len(cs) > 0
}
