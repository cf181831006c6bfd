package printers

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeLostReason is the pod status reason the node lifecycle controller sets
// on pods of an unreachable node; kube prints such pods, once deleted, as
// "Unknown".
const nodeLostReason = "NodeLost"

var podPrinter = &Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
		{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
		{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
		ageColumn(),
		{Name: "IP", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["podIP"]},
		{Name: "Node", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["nodeName"]},
		{Name: "Nominated Node", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]},
		{Name: "Readiness Gates", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["readinessGates"]},
	},
	Row: typed(podRow),
}

func podRow(pod *corev1.Pod, now time.Time) []any {
	s := summarizePod(pod)
	restarts := strconv.Itoa(s.restarts.count)
	if s.restarts.count != 0 && !s.restarts.last.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts.count, age(metav1.NewTime(s.restarts.last), now))
	}
	return []any{
		pod.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.reason,
		restarts,
		age(pod.CreationTimestamp, now),
		orNone(podIP(pod)),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		readinessGates(pod),
	}
}

// podSummary is what the READY, STATUS and RESTARTS cells show.
type podSummary struct {
	ready, total int
	reason       string
	restarts     restartTally
}

// restartTally counts container restarts and remembers when the latest one
// happened (the finish time of the previous run).
type restartTally struct {
	count int
	last  time.Time
}

func (t *restartTally) add(cs corev1.ContainerStatus) {
	t.count += int(cs.RestartCount)
	if prev := cs.LastTerminationState.Terminated; prev != nil && t.last.Before(prev.FinishedAt.Time) {
		t.last = prev.FinishedAt.Time
	}
}

// summarizePod derives kubectl's pod status as kube-apiserver 1.32 does.
//
// The status starts as the phase (or status.reason). While an init container
// has not finished it becomes "Init:<reason>" or "Init:<done>/<total>", and
// restarts count the init containers seen so far. Once initialized, restarts
// count the sidecars (restartable init containers) and the app containers,
// and the first app container with a waiting or terminated reason names the
// status. Deletion overrides it all with "Terminating" (or "Unknown" on a
// lost node), except for pods that have already finished.
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers), reason: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		s.reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.reason = corev1.PodReasonSchedulingGated
		}
	}

	// Sidecars count as containers of the pod, and are ready once started.
	sidecar := make(map[string]bool)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecar[c.Name] = true
			s.total++
		}
	}

	var all, sidecars restartTally
	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		all.add(cs)
		if sidecar[cs.Name] {
			sidecars.add(cs)
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		if sidecar[cs.Name] && cs.Started != nil && *cs.Started {
			if cs.Ready {
				s.ready++
			}
			continue
		}
		s.reason = initReason(cs, i, len(pod.Spec.InitContainers))
		initializing = true
		break
	}
	s.restarts = all

	if !initializing || firstConditionTrue(pod.Status.Conditions, corev1.PodInitialized) {
		s.restarts = sidecars
		running := false
		// Walk backwards so that the first container's reason wins.
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			s.restarts.add(cs)
			switch w, t := cs.State.Waiting, cs.State.Terminated; {
			case w != nil && w.Reason != "":
				s.reason = w.Reason
			case t != nil && t.Reason != "":
				s.reason = t.Reason
			case t != nil && t.Signal != 0:
				s.reason = fmt.Sprintf("Signal:%d", t.Signal)
			case t != nil:
				s.reason = fmt.Sprintf("ExitCode:%d", t.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				running = true
				s.ready++
			}
		}
		// A pod whose first container completed while others still run is
		// not completed.
		if s.reason == "Completed" && running {
			if anyConditionTrue(pod.Status.Conditions, corev1.PodReady) {
				s.reason = "Running"
			} else {
				s.reason = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		if pod.Status.Reason == nodeLostReason {
			s.reason = "Unknown"
		} else if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			s.reason = "Terminating"
		}
	}
	return s
}

// initReason is the status of a pod held up by its i-th of n init
// containers.
func initReason(cs corev1.ContainerStatus, i, n int) string {
	switch w, t := cs.State.Waiting, cs.State.Terminated; {
	case t != nil && t.Reason != "":
		return "Init:" + t.Reason
	case t != nil && t.Signal != 0:
		return fmt.Sprintf("Init:Signal:%d", t.Signal)
	case t != nil:
		return fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
	case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
		return "Init:" + w.Reason
	default:
		return fmt.Sprintf("Init:%d/%d", i, n)
	}
}

// podIP is the pod's primary IP. kube prints the internal type, whose only
// field is podIPs; converting from v1 puts status.podIP first when set.
func podIP(pod *corev1.Pod) string {
	if pod.Status.PodIP != "" {
		return pod.Status.PodIP
	}
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return ""
}

// readinessGates renders "<true>/<gates>", counting a gate true when the
// first condition of its type is True.
func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	n := 0
	for _, g := range pod.Spec.ReadinessGates {
		if firstConditionTrue(pod.Status.Conditions, g.ConditionType) {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(pod.Spec.ReadinessGates))
}

// firstConditionTrue reports whether the first condition of type t is True.
func firstConditionTrue(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// anyConditionTrue reports whether some condition of type t is True.
func anyConditionTrue(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// orNone is s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
