package scheduler

import (
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// testNow is the clock every test decides at.
var testNow = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

const (
	mib = 1024 * 1024
	gib = 1024 * mib
)

// resList builds a ResourceList from name/quantity pairs:
// resList("cpu", "500m", "memory", "1Gi").
func resList(kv ...string) corev1.ResourceList {
	if len(kv)%2 != 0 {
		panic("resList: odd number of arguments")
	}
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

// ctr is a container requesting kv (see resList); none for no requests.
func ctr(name string, kv ...string) corev1.Container {
	c := corev1.Container{Name: name, Image: "busybox"}
	if len(kv) > 0 {
		c.Resources.Requests = resList(kv...)
	}
	return c
}

// sidecar is an init container that restarts always.
func sidecar(name string, kv ...string) corev1.Container {
	c := ctr(name, kv...)
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return c
}

type podOpt func(*corev1.Pod)

// makePod is a pod in namespace "default" with one container requesting
// nothing unless options say otherwise.
func makePod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{ctr("app")}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// withRequests gives the pod's single container these requests.
func withRequests(kv ...string) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers = []corev1.Container{ctr("app", kv...)} }
}

func withContainers(cs ...corev1.Container) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers = cs }
}

func withInitContainers(cs ...corev1.Container) podOpt {
	return func(p *corev1.Pod) { p.Spec.InitContainers = cs }
}

func withOverhead(kv ...string) podOpt {
	return func(p *corev1.Pod) { p.Spec.Overhead = resList(kv...) }
}

func withTolerations(ts ...corev1.Toleration) podOpt {
	return func(p *corev1.Pod) { p.Spec.Tolerations = append(p.Spec.Tolerations, ts...) }
}

func withNodeSelector(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

// withRequiredAffinity sets required node affinity with these terms.
func withRequiredAffinity(terms ...corev1.NodeSelectorTerm) podOpt {
	return func(p *corev1.Pod) {
		ensureNodeAffinity(p).RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: terms}
	}
}

// withPreferredAffinity sets preferred node affinity with these terms.
func withPreferredAffinity(terms ...corev1.PreferredSchedulingTerm) podOpt {
	return func(p *corev1.Pod) {
		ensureNodeAffinity(p).PreferredDuringSchedulingIgnoredDuringExecution = terms
	}
}

func ensureNodeAffinity(p *corev1.Pod) *corev1.NodeAffinity {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &corev1.Affinity{}
	}
	if p.Spec.Affinity.NodeAffinity == nil {
		p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	return p.Spec.Affinity.NodeAffinity
}

// withHostPorts gives the pod's first container these ports.
func withHostPorts(ports ...corev1.ContainerPort) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports = ports }
}

// withOwner makes the pod controlled by the ReplicaSet with this UID.
func withOwner(uid string) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs-" + uid, UID: types.UID(uid), Controller: ptr.To(true),
		}}
	}
}

// expr is a node selector requirement.
func expr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

// term ANDs label expressions.
func term(exprs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: exprs}
}

type nodeOpt func(*corev1.Node)

// makeNode is a Ready node with 4 CPUs, 8Gi memory, 100Gi ephemeral
// storage and room for 110 pods unless options say otherwise.
func makeNode(name string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Allocatable: resList("cpu", "4", "memory", "8Gi", "ephemeral-storage", "100Gi", "pods", "110"),
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withAllocatable(kv ...string) nodeOpt {
	return func(n *corev1.Node) { n.Status.Allocatable = resList(kv...) }
}

func withLabels(kv ...string) nodeOpt {
	return func(n *corev1.Node) {
		for i := 0; i < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withTaints(ts ...corev1.Taint) nodeOpt {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, ts...) }
}

func withReady(s corev1.ConditionStatus) nodeOpt {
	return func(n *corev1.Node) {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: s}}
	}
}

func withNoConditions() nodeOpt {
	return func(n *corev1.Node) { n.Status.Conditions = nil }
}

func cordoned() nodeOpt {
	return func(n *corev1.Node) { n.Spec.Unschedulable = true }
}

// aliveLease is the node's heartbeat renewed 10s before testNow, lasting 40s.
func aliveLease(node string) *coordinationv1.Lease {
	return leaseRenewed(node, testNow.Add(-10*time.Second), 40)
}

func leaseRenewed(node string, at time.Time, seconds int32) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-node-lease", Name: node},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(node),
			LeaseDurationSeconds: ptr.To(seconds),
			RenewTime:            &metav1.MicroTime{Time: at},
		},
	}
}

// nodeInfo wraps the node with an alive lease and the given pods.
func nodeInfo(node *corev1.Node, pods ...*corev1.Pod) *NodeInfo {
	ni := NewNodeInfo(node)
	ni.Lease = aliveLease(node.Name)
	for _, p := range pods {
		ni.AddPod(NewPodInfo(p))
	}
	return ni
}

// equalNodes is n identical Ready nodes with live leases.
func equalNodes(n int, opts ...nodeOpt) []*NodeInfo {
	out := make([]*NodeInfo, n)
	for i := range out {
		out[i] = nodeInfo(makeNode(fmt.Sprintf("node-%05d", i), opts...))
	}
	return out
}
