package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/runtime/container"
)

// containerView is what the status computation knows of one container of
// the pod: its latest attempt (cur), the one before (prev), and why it is
// not running when it is not. It is a snapshot: computing status does no
// I/O, so it is tested without a kernel or etcd.
type containerView struct {
	Name      string
	Image     string
	ImageID   string
	Cur, Prev *container.State
	// RestartCount is Cur's attempt number (0 for the first).
	RestartCount int32
	// WaitReason/WaitMessage say why no attempt runs (ContainerCreating,
	// ErrImagePull, CrashLoopBackOff, CreateContainerConfigError, ...).
	WaitReason, WaitMessage string
	// Ready and Started come from the readiness and startup probes (true
	// when the container has no such probe and runs).
	Ready, Started bool
	// Message and PrevMessage are Cur's and Prev's termination messages,
	// once they have finished.
	Message, PrevMessage string
}

// podView is the pod's state as the worker sees it.
type podView struct {
	SandboxReady bool
	PodIP        string
	HostIP       string
	StartTime    time.Time
	Init         []containerView // in spec order
	Containers   []containerView // in spec order
}

// exitedOK says whether a container's attempt ended with exit code 0.
func exitedOK(st *container.State) bool {
	return st != nil && st.Status == container.StatusExited && st.Exit != nil && st.Exit.ExitCode == 0
}

// finished says whether the attempt is over (exited, or lost with its monitor).
func finished(st *container.State) bool {
	return st != nil && (st.Status == container.StatusExited || st.Status == container.StatusUnknown)
}

// terminatedState describes a finished attempt as Kubernetes does; msg
// is its termination message, added to the runtime's own message (after
// ": " when there is one).
func terminatedState(st *container.State, msg string) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{ContainerID: containerID(st.ID), StartedAt: metav1.NewTime(st.StartedAt)}
	if st.Exit == nil {
		// The monitor died without recording the exit (host reboot,
		// killed monitor): Kubernetes' ContainerStatusUnknown.
		t.ExitCode, t.Reason = 137, "ContainerStatusUnknown"
		t.Message = "The container could not be located when the pod was terminated"
		t.FinishedAt = t.StartedAt
		return t
	}
	t.ExitCode = int32(st.Exit.ExitCode)
	t.Message = st.Exit.Reason
	if msg != "" {
		if t.Message != "" {
			t.Message += ": "
		}
		t.Message += msg
	}
	t.FinishedAt = metav1.NewTime(st.Exit.FinishedAt)
	switch {
	case st.Exit.OOMKilled:
		t.Reason = "OOMKilled"
	case st.Exit.ExitCode == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	return t
}

func containerID(id string) string { return "shepherd://" + id }

// containerStatus is one container's status.
func containerStatus(v containerView) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{
		Name: v.Name, Image: v.Image, ImageID: v.ImageID, RestartCount: v.RestartCount,
		Started: ptr.To(false),
	}
	if v.Prev != nil && finished(v.Prev) {
		cs.LastTerminationState.Terminated = terminatedState(v.Prev, v.PrevMessage)
	}
	switch {
	case v.Cur != nil && v.Cur.Status == container.StatusRunning && v.WaitReason == "":
		cs.ContainerID = containerID(v.Cur.ID)
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(v.Cur.StartedAt)}
		cs.Ready = v.Ready
		cs.Started = ptr.To(v.Started)
	case v.WaitReason != "":
		// Waiting to (re)start: the last attempt, if any, is lastState.
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: v.WaitReason, Message: v.WaitMessage}
		if v.Cur != nil && finished(v.Cur) {
			cs.LastTerminationState.Terminated = terminatedState(v.Cur, v.Message)
			cs.ContainerID = containerID(v.Cur.ID)
		}
	case v.Cur != nil && finished(v.Cur):
		cs.ContainerID = containerID(v.Cur.ID)
		cs.State.Terminated = terminatedState(v.Cur, v.Message)
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	return cs
}

// podPhase is Kubernetes' phase rule: Pending until initialised and every
// container has started once; Running while any runs or will be
// restarted; Succeeded or Failed when all have ended for good.
func podPhase(pod *corev1.Pod, v *podView) corev1.PodPhase {
	policy := pod.Spec.RestartPolicy
	for _, c := range v.Init {
		if policy == corev1.RestartPolicyNever && finished(c.Cur) && !exitedOK(c.Cur) {
			return corev1.PodFailed
		}
	}
	if !initialized(pod, v) {
		return corev1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, c := range v.Containers {
		switch {
		case c.Cur != nil && c.Cur.Status == container.StatusRunning && c.WaitReason == "":
			running++
		case finished(c.Cur) && c.WaitReason == "":
			stopped++
			if exitedOK(c.Cur) {
				succeeded++
			}
		case c.Cur != nil && finished(c.Cur):
			// Waiting to restart: it has run, so it counts as stopped.
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped == 0:
		return corev1.PodPending
	case policy == corev1.RestartPolicyAlways:
		return corev1.PodRunning // all stopped, being restarted
	case succeeded == stopped:
		return corev1.PodSucceeded
	case policy == corev1.RestartPolicyOnFailure:
		return corev1.PodRunning // the failed ones are restarted
	default:
		return corev1.PodFailed
	}
}

// initContainerReady is an init container's ready, Kubernetes 1.32's
// rule for those that are not sidecars: ready once it has exited 0 (its
// work is done), never while it runs or waits; a sidecar's ready is a
// regular container's, from its readiness probe.
func initContainerReady(cs corev1.ContainerStatus) bool {
	return cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
}

// isSidecar: an init container with restartPolicy Always runs alongside
// the regular containers (Kubernetes' native sidecars).
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// initialized: every init container has succeeded (a sidecar: started).
func initialized(pod *corev1.Pod, v *podView) bool {
	for i, c := range v.Init {
		if i < len(pod.Spec.InitContainers) && isSidecar(&pod.Spec.InitContainers[i]) {
			if c.Cur == nil || c.Cur.Status != container.StatusRunning || !c.Started {
				return false
			}
			continue
		}
		if !exitedOK(c.Cur) {
			return false
		}
	}
	return true
}

// computeStatus is the pod status the kubelet reports, merged into the
// current one: conditions keep their lastTransitionTime while unchanged,
// and conditions other components own (PodScheduled, DisruptionTarget,
// readiness gates) are kept.
func computeStatus(pod *corev1.Pod, v *podView, now time.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	st.Phase = podPhase(pod, v)
	st.HostIP = v.HostIP
	st.HostIPs = nil
	if v.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: v.HostIP}}
	}
	st.PodIP, st.PodIPs = "", nil
	if v.PodIP != "" {
		st.PodIP = v.PodIP
		st.PodIPs = []corev1.PodIP{{IP: v.PodIP}}
	}
	if st.StartTime == nil && !v.StartTime.IsZero() {
		st.StartTime = &metav1.Time{Time: v.StartTime}
	}
	// Until a container's first attempt, its waiting reason is
	// PodInitializing in a pod with init containers (init containers
	// included), ContainerCreating otherwise, as Kubernetes' default.
	defaultWaiting := func(c containerView) containerView {
		if c.Cur == nil && c.WaitReason == "" && len(pod.Spec.InitContainers) > 0 {
			c.WaitReason = "PodInitializing"
		}
		return c
	}
	st.InitContainerStatuses = nil
	for i, c := range v.Init {
		cs := containerStatus(defaultWaiting(c))
		if i < len(pod.Spec.InitContainers) && !isSidecar(&pod.Spec.InitContainers[i]) {
			cs.Ready = initContainerReady(cs)
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	st.ContainerStatuses = nil
	var unready []string
	for _, c := range v.Containers {
		cs := containerStatus(defaultWaiting(c))
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !cs.Ready {
			unready = append(unready, c.Name)
		}
	}
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	capTerminationMessages(pod, &st)

	t := metav1.NewTime(now.Truncate(time.Second))
	set := func(ct corev1.PodConditionType, ok bool, reason, msg string) {
		c := corev1.PodCondition{Type: ct, Status: corev1.ConditionFalse, Reason: reason, Message: msg, LastTransitionTime: t}
		if ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
		}
		for _, old := range st.Conditions {
			if old.Type == ct && old.Status == c.Status && !old.LastTransitionTime.IsZero() {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		api.SetPodCondition(&st, c)
	}
	set(corev1.PodReadyToStartContainers, v.SandboxReady, "", "")
	var incomplete []string
	for i, c := range v.Init {
		if !exitedOK(c.Cur) && !(isSidecar(&pod.Spec.InitContainers[i]) && c.Cur != nil && c.Cur.Status == container.StatusRunning) {
			incomplete = append(incomplete, c.Name)
		}
	}
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		// A finished pod's init containers ran; its containers are
		// not ready (Kubernetes says PodCompleted).
		set(corev1.PodInitialized, initialized(pod, v) || len(incomplete) == 0, "ContainersNotInitialized", listMessage("containers with incomplete status", incomplete))
		set(corev1.ContainersReady, false, "PodCompleted", "")
		set(corev1.PodReady, false, "PodCompleted", "")
		return st
	}
	set(corev1.PodInitialized, initialized(pod, v), "ContainersNotInitialized", listMessage("containers with incomplete status", incomplete))
	set(corev1.ContainersReady, len(unready) == 0, "ContainersNotReady", listMessage("containers with unready status", unready))
	ready, reason, msg := len(unready) == 0, "ContainersNotReady", listMessage("containers with unready status", unready)
	if ready {
		// Readiness gates: conditions other components set.
		var missing []string
		for _, g := range pod.Spec.ReadinessGates {
			ok := false
			for _, c := range st.Conditions {
				if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
					ok = true
				}
			}
			if !ok {
				missing = append(missing, string(g.ConditionType))
			}
		}
		if len(missing) > 0 {
			ready, reason, msg = false, "ReadinessGatesNotReady", listMessage("corresponding condition of pod readiness gate", missing)
		}
	}
	set(corev1.PodReady, ready, reason, msg)
	return st
}

func listMessage(what string, names []string) string {
	if len(names) == 0 {
		return ""
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return fmt.Sprintf("%s: [%s]", what, strings.Join(sorted, " "))
}

// qosClass is Kubernetes' QoS rule: Guaranteed when every container's cpu
// and memory limits equal their requests, BestEffort when none sets any,
// Burstable otherwise.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	all := append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
	any, guaranteed := false, true
	for _, c := range all {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq || hasLim {
				any = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	default:
		return corev1.PodQOSBurstable
	}
}
