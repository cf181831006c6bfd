package scheduler

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodInfo is a pod with what scheduling needs computed once.
type PodInfo struct {
	Pod      *corev1.Pod
	Key      string // namespace/name
	Requests Resources
	NonZero  Resources
	Ports    []hostPort
	Owner    types.UID // the controller owner, "" for none
}

// NewPodInfo computes a pod's requests, host ports and owner.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	req, nz := podRequests(pod)
	pi := &PodInfo{Pod: pod, Key: pod.Namespace + "/" + pod.Name, Requests: req, NonZero: nz, Ports: podHostPorts(pod)}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		pi.Owner = ref.UID
	}
	return pi
}

// hostPort is a port a pod takes on its node's addresses.
type hostPort struct {
	Protocol corev1.Protocol
	IP       string // "0.0.0.0" for every address
	Port     int32
}

// podHostPorts are the host ports of a pod's containers and sidecars (init
// containers that restart always); other init containers have exited
// before the containers start, so Kubernetes does not count theirs.
func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; isSidecar(c) {
			out = appendHostPorts(out, c)
		}
	}
	for i := range pod.Spec.Containers {
		out = appendHostPorts(out, &pod.Spec.Containers[i])
	}
	return out
}

func appendHostPorts(out []hostPort, c *corev1.Container) []hostPort {
	for _, p := range c.Ports {
		if p.HostPort <= 0 {
			continue
		}
		hp := hostPort{Protocol: p.Protocol, IP: p.HostIP, Port: p.HostPort}
		if hp.Protocol == "" {
			hp.Protocol = corev1.ProtocolTCP
		}
		if hp.IP == "" {
			hp.IP = "0.0.0.0"
		}
		out = append(out, hp)
	}
	return out
}

// conflicts reports whether two host ports cannot both be bound.
func (a hostPort) conflicts(b hostPort) bool {
	return a.Protocol == b.Protocol && a.Port == b.Port && (a.IP == b.IP || a.IP == "0.0.0.0" || b.IP == "0.0.0.0")
}

// NodeInfo is one node and what the pods on it (bound or assumed) use.
type NodeInfo struct {
	Node *corev1.Node
	// Lease is the node's heartbeat (kube-node-lease/<node>), nil if none.
	Lease *coordinationv1.Lease

	Allocatable Resources
	AllowedPods int64
	Requested   Resources
	NonZero     Resources
	Pods        map[string]*PodInfo // by namespace/name
	ports       map[hostPort]int    // how many pods use each host port
	owners      map[types.UID]int   // pods per controller owner
}

// NewNodeInfo returns the node with no pods on it.
func NewNodeInfo(node *corev1.Node) *NodeInfo {
	n := emptyNodeInfo()
	n.SetNode(node)
	return n
}

// emptyNodeInfo has no node object yet: a placeholder for the pods bound to
// a node the scheduler has not seen (or has seen deleted).
func emptyNodeInfo() *NodeInfo {
	return &NodeInfo{Pods: map[string]*PodInfo{}, ports: map[hostPort]int{}, owners: map[types.UID]int{}}
}

// SetNode replaces the node object, keeping the pods.
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Allocatable = resourcesOf(node.Status.Allocatable)
	n.AllowedPods = node.Status.Allocatable.Pods().Value()
}

// AddPod counts pi on this node.
func (n *NodeInfo) AddPod(pi *PodInfo) {
	if _, ok := n.Pods[pi.Key]; ok {
		n.RemovePod(pi.Key)
	}
	n.Pods[pi.Key] = pi
	n.Requested.add(pi.Requests)
	n.NonZero.add(pi.NonZero)
	for _, p := range pi.Ports {
		n.ports[p]++
	}
	if pi.Owner != "" {
		n.owners[pi.Owner]++
	}
}

// RemovePod stops counting the pod with this key.
func (n *NodeInfo) RemovePod(key string) {
	pi, ok := n.Pods[key]
	if !ok {
		return
	}
	delete(n.Pods, key)
	n.Requested.sub(pi.Requests)
	n.NonZero.sub(pi.NonZero)
	for _, p := range pi.Ports {
		if n.ports[p]--; n.ports[p] <= 0 {
			delete(n.ports, p)
		}
	}
	if pi.Owner != "" {
		if n.owners[pi.Owner]--; n.owners[pi.Owner] <= 0 {
			delete(n.owners, pi.Owner)
		}
	}
}

// readyStatus is the node's Ready condition, Unknown when it has none.
func (n *NodeInfo) readyStatus() corev1.ConditionStatus { return readyStatus(n.Node) }

func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// leaseAlive reports whether the node's heartbeat lease exists and, when it
// records a renewal, has been renewed within its duration.
func (n *NodeInfo) leaseAlive(now time.Time) bool {
	if n.Lease == nil {
		return false
	}
	s := n.Lease.Spec
	if s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return true
	}
	return now.Before(s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second))
}

// isSidecar reports an init container that keeps running beside the
// containers.
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}
