package scheduler

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// A filter says why a pod cannot run on a node: nil when it can, else the
// reasons, which the unschedulable message counts across nodes ("2
// Insufficient cpu"). Filters run in the order of filters and a node's
// reasons come from the first that fails, as in Kubernetes.
type filter func(pi *PodInfo, n *NodeInfo, now time.Time) []string

// The reasons, worded as Kubernetes words them where it has the check.
const (
	reasonNotReady      = "node(s) were not ready"
	reasonLeaseExpired  = "node(s) had no live heartbeat lease"
	reasonUnschedulable = "node(s) were unschedulable"
	reasonAffinity      = "node(s) didn't match Pod's node affinity/selector"
	reasonPorts         = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods   = "Too many pods"
)

// The taints Kubernetes puts on nodes in these states. A pod that tolerates
// one (a DaemonSet's pods do) may be placed on a node in that state.
const (
	taintNotReady      = "node.kubernetes.io/not-ready"
	taintUnreachable   = "node.kubernetes.io/unreachable"
	taintUnschedulable = "node.kubernetes.io/unschedulable"
)

var filters = []filter{
	filterNodeReady,
	filterUnschedulable,
	filterTaints,
	filterNodeAffinity,
	filterHostPorts,
	filterResources,
}

// filterNodeReady: the node reports Ready and its kubelet's heartbeat lease
// is alive.
// A node whose Ready condition is False is "not-ready" in Kubernetes' taint
// terms; one whose condition is Unknown (or absent), or whose lease ran out,
// is "unreachable".
func filterNodeReady(pi *PodInfo, n *NodeInfo, now time.Time) []string {
	switch n.readyStatus() {
	case corev1.ConditionTrue:
	case corev1.ConditionFalse:
		if !tolerates(pi.Pod, taintNotReady, corev1.TaintEffectNoSchedule) {
			return []string{reasonNotReady}
		}
	default:
		if !tolerates(pi.Pod, taintUnreachable, corev1.TaintEffectNoSchedule) {
			return []string{reasonNotReady}
		}
	}
	if !n.leaseAlive(now) && !tolerates(pi.Pod, taintUnreachable, corev1.TaintEffectNoSchedule) {
		return []string{reasonLeaseExpired}
	}
	return nil
}

// filterUnschedulable: the node is not cordoned.
func filterUnschedulable(pi *PodInfo, n *NodeInfo, _ time.Time) []string {
	if n.Node.Spec.Unschedulable && !tolerates(pi.Pod, taintUnschedulable, corev1.TaintEffectNoSchedule) {
		return []string{reasonUnschedulable}
	}
	return nil
}

// tolerates reports whether pod tolerates a taint of key and effect.
func tolerates(pod *corev1.Pod, key string, effect corev1.TaintEffect) bool {
	t := corev1.Taint{Key: key, Effect: effect}
	for i := range pod.Spec.Tolerations {
		if toleratesTaint(&pod.Spec.Tolerations[i], &t) {
			return true
		}
	}
	return false
}

// filterTaints: every NoSchedule and NoExecute taint is tolerated.
func filterTaints(pi *PodInfo, n *NodeInfo, _ time.Time) []string {
	for i := range n.Node.Spec.Taints {
		t := &n.Node.Spec.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !toleratedBy(t, pi.Pod.Spec.Tolerations) {
			return []string{fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)}
		}
	}
	return nil
}

func toleratedBy(t *corev1.Taint, tolerations []corev1.Toleration) bool {
	for i := range tolerations {
		if toleratesTaint(&tolerations[i], t) {
			return true
		}
	}
	return false
}

// filterNodeAffinity: the node matches the pod's nodeSelector and one of
// its required node affinity terms.
func filterNodeAffinity(pi *PodInfo, n *NodeInfo, _ time.Time) []string {
	spec := &pi.Pod.Spec
	if len(spec.NodeSelector) > 0 && !labels.SelectorFromSet(spec.NodeSelector).Matches(labels.Set(n.Node.Labels)) {
		return []string{reasonAffinity}
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		if !matchesAnyTerm(n.Node, a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) {
			return []string{reasonAffinity}
		}
	}
	return nil
}

// matchesAnyTerm: node selector terms are ORed; an empty term matches
// nothing.
func matchesAnyTerm(node *corev1.Node, terms []corev1.NodeSelectorTerm) bool {
	for i := range terms {
		if matchesTerm(node, &terms[i]) {
			return true
		}
	}
	return false
}

// matchesTerm: a term's expressions and fields are ANDed.
func matchesTerm(node *corev1.Node, term *corev1.NodeSelectorTerm) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, r := range term.MatchExpressions {
		v, ok := node.Labels[r.Key]
		if !matchesRequirement(r, v, ok) {
			return false
		}
	}
	for _, r := range term.MatchFields {
		// metadata.name is the only field Kubernetes supports.
		if r.Key != "metadata.name" || !matchesRequirement(r, node.Name, true) {
			return false
		}
	}
	return true
}

func matchesRequirement(r corev1.NodeSelectorRequirement, v string, has bool) bool {
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return has && contains(r.Values, v)
	case corev1.NodeSelectorOpNotIn:
		return !has || !contains(r.Values, v)
	case corev1.NodeSelectorOpExists:
		return has
	case corev1.NodeSelectorOpDoesNotExist:
		return !has
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !has || len(r.Values) != 1 {
			return false
		}
		got, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return got > want
		}
		return got < want
	}
	return false
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// filterHostPorts: no pod on the node holds a host port the pod wants.
func filterHostPorts(pi *PodInfo, n *NodeInfo, _ time.Time) []string {
	for _, want := range pi.Ports {
		for used := range n.ports {
			if want.conflicts(used) {
				return []string{reasonPorts}
			}
		}
	}
	return nil
}

// filterResources: the node has room for the pod's requests and one more
// pod. Every resource short is a reason.
func filterResources(pi *PodInfo, n *NodeInfo, _ time.Time) []string {
	var reasons []string
	if int64(len(n.Pods))+1 > n.AllowedPods {
		reasons = append(reasons, reasonTooManyPods)
	}
	r, free := pi.Requests, n.Allocatable
	free.sub(n.Requested)
	if r.MilliCPU > 0 && r.MilliCPU > free.MilliCPU {
		reasons = append(reasons, "Insufficient cpu")
	}
	if r.Memory > 0 && r.Memory > free.Memory {
		reasons = append(reasons, "Insufficient memory")
	}
	if r.EphemeralStorage > 0 && r.EphemeralStorage > free.EphemeralStorage {
		reasons = append(reasons, "Insufficient ephemeral-storage")
	}
	return reasons
}

// toleratesTaint is Kubernetes' matching of a toleration to a taint: an
// empty effect or key matches any; Exists matches any value, Equal (or no
// operator) the same value, Lt and Gt compare integer values.
func toleratesTaint(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	case corev1.TolerationOpExists:
		return true
	case corev1.TolerationOpLt, corev1.TolerationOpGt:
		tol, err1 := strconv.ParseInt(t.Value, 10, 64)
		val, err2 := strconv.ParseInt(taint.Value, 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if t.Operator == corev1.TolerationOpLt {
			return val < tol
		}
		return val > tol
	}
	return false
}
