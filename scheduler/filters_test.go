package scheduler

import (
	"reflect"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
)

// filterCase is one row of a filter's table: want is nil when the pod
// passes, else the exact reasons.
type filterCase struct {
	name string
	pod  *corev1.Pod
	node *NodeInfo
	want []string
}

func runFilterCases(t *testing.T, f filter, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := f(NewPodInfo(tc.pod), tc.node, testNow)
			if tc.want == nil {
				// runFilters treats any non-nil result as a failure, so
				// passing must be exactly nil.
				if got != nil {
					t.Fatalf("got %q, want nil (pass)", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// withLease replaces a NodeInfo's lease.
func withLease(ni *NodeInfo, l *coordinationv1.Lease) *NodeInfo {
	ni.Lease = l
	return ni
}

func toleration(key string, op corev1.TolerationOperator, value string, effect corev1.TaintEffect) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: op, Value: value, Effect: effect}
}

func taint(key, value string, effect corev1.TaintEffect) corev1.Taint {
	return corev1.Taint{Key: key, Value: value, Effect: effect}
}

const (
	noSchedule       = corev1.TaintEffectNoSchedule
	noExecute        = corev1.TaintEffectNoExecute
	preferNoSchedule = corev1.TaintEffectPreferNoSchedule
	opExists         = corev1.TolerationOpExists
	opEqual          = corev1.TolerationOpEqual
)

func TestFilterNodeReady(t *testing.T) {
	lease := func(renewedAgo time.Duration, seconds int32) *coordinationv1.Lease {
		return leaseRenewed("n", testNow.Add(-renewedAgo), seconds)
	}
	runFilterCases(t, filterNodeReady, []filterCase{
		{name: "Ready=True with alive lease", pod: makePod("p"), node: nodeInfo(makeNode("n")), want: nil},
		{name: "Ready=False", pod: makePod("p"), node: nodeInfo(makeNode("n", withReady(corev1.ConditionFalse))), want: []string{reasonNotReady}},
		{name: "Ready=Unknown", pod: makePod("p"), node: nodeInfo(makeNode("n", withReady(corev1.ConditionUnknown))), want: []string{reasonNotReady}},
		{name: "no conditions at all", pod: makePod("p"), node: nodeInfo(makeNode("n", withNoConditions())), want: []string{reasonNotReady}},
		{
			name: "only other conditions",
			pod:  makePod("p"),
			node: nodeInfo(makeNode("n", func(n *corev1.Node) {
				n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}}
			})),
			want: []string{reasonNotReady},
		},
		{
			name: "Ready=True after other conditions",
			pod:  makePod("p"),
			node: nodeInfo(makeNode("n", func(n *corev1.Node) {
				n.Status.Conditions = []corev1.NodeCondition{
					{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse},
					{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
				}
			})),
			want: nil,
		},
		{name: "lease missing", pod: makePod("p"), node: withLease(nodeInfo(makeNode("n")), nil), want: []string{reasonLeaseExpired}},
		{name: "lease expired (renewed 50s ago, lasts 40s)", pod: makePod("p"), node: withLease(nodeInfo(makeNode("n")), lease(50*time.Second, 40)), want: []string{reasonLeaseExpired}},
		{name: "lease expired long ago", pod: makePod("p"), node: withLease(nodeInfo(makeNode("n")), lease(time.Hour, 40)), want: []string{reasonLeaseExpired}},
		{name: "lease alive (renewed 39s ago, lasts 40s)", pod: makePod("p"), node: withLease(nodeInfo(makeNode("n")), lease(39*time.Second, 40)), want: nil},
		{name: "lease renewed in the future (clock skew) is alive", pod: makePod("p"), node: withLease(nodeInfo(makeNode("n")), lease(-5*time.Second, 40)), want: nil},
		{
			name: "lease without renewTime counts as alive",
			pod:  makePod("p"),
			node: withLease(nodeInfo(makeNode("n")), func() *coordinationv1.Lease {
				l := aliveLease("n")
				l.Spec.RenewTime = nil
				return l
			}()),
			want: nil,
		},
		{
			name: "lease without leaseDurationSeconds counts as alive",
			pod:  makePod("p"),
			node: withLease(nodeInfo(makeNode("n")), func() *coordinationv1.Lease {
				l := lease(time.Hour, 40)
				l.Spec.LeaseDurationSeconds = nil
				return l
			}()),
			want: nil,
		},
		{
			name: "not-ready node and no lease: not-ready reported first",
			pod:  makePod("p"),
			node: withLease(nodeInfo(makeNode("n", withReady(corev1.ConditionFalse))), nil),
			want: []string{reasonNotReady},
		},
		{
			name: "pod tolerating node.kubernetes.io/not-ready:NoSchedule passes a NotReady node",
			pod:  makePod("p", withTolerations(toleration(taintNotReady, opExists, "", noSchedule))),
			node: nodeInfo(makeNode("n", withReady(corev1.ConditionFalse))),
			want: nil,
		},
		{
			name: "pod tolerating node.kubernetes.io/not-ready with any effect passes a NotReady node",
			pod:  makePod("p", withTolerations(toleration(taintNotReady, opExists, "", ""))),
			node: nodeInfo(makeNode("n", withReady(corev1.ConditionFalse))),
			want: nil,
		},
		{
			name: "pod tolerating node.kubernetes.io/unreachable passes a node without Ready condition",
			pod:  makePod("p", withTolerations(toleration(taintUnreachable, opExists, "", noSchedule))),
			node: nodeInfo(makeNode("n", withNoConditions())),
			want: nil,
		},
		{
			name: "toleration of not-ready:NoExecute only does not tolerate the NoSchedule taint",
			pod:  makePod("p", withTolerations(toleration(taintNotReady, opExists, "", noExecute))),
			node: nodeInfo(makeNode("n", withReady(corev1.ConditionFalse))),
			want: []string{reasonNotReady},
		},
		{
			name: "tolerating not-ready does not excuse a missing lease",
			pod:  makePod("p", withTolerations(toleration(taintNotReady, opExists, "", noSchedule))),
			node: withLease(nodeInfo(makeNode("n", withReady(corev1.ConditionFalse))), nil),
			want: []string{reasonLeaseExpired},
		},
		{
			name: "pod tolerating node.kubernetes.io/unreachable passes an expired lease",
			pod:  makePod("p", withTolerations(toleration(taintUnreachable, opExists, "", noSchedule))),
			node: withLease(nodeInfo(makeNode("n")), lease(time.Hour, 40)),
			want: nil,
		},
		{
			name: "pod tolerating everything passes a NotReady node without lease",
			pod:  makePod("p", withTolerations(toleration("", opExists, "", ""))),
			node: withLease(nodeInfo(makeNode("n", withReady(corev1.ConditionUnknown))), nil),
			want: nil,
		},
	})
}

func TestFilterUnschedulable(t *testing.T) {
	runFilterCases(t, filterUnschedulable, []filterCase{
		{name: "schedulable node", pod: makePod("p"), node: nodeInfo(makeNode("n")), want: nil},
		{name: "cordoned node", pod: makePod("p"), node: nodeInfo(makeNode("n", cordoned())), want: []string{reasonUnschedulable}},
		{
			name: "cordoned node, pod tolerates node.kubernetes.io/unschedulable:NoSchedule",
			pod:  makePod("p", withTolerations(toleration(taintUnschedulable, opExists, "", noSchedule))),
			node: nodeInfo(makeNode("n", cordoned())),
			want: nil,
		},
		{
			name: "cordoned node, pod tolerates node.kubernetes.io/unschedulable with any effect",
			pod:  makePod("p", withTolerations(toleration(taintUnschedulable, opExists, "", ""))),
			node: nodeInfo(makeNode("n", cordoned())),
			want: nil,
		},
		{
			name: "cordoned node, pod tolerates everything",
			pod:  makePod("p", withTolerations(toleration("", opExists, "", ""))),
			node: nodeInfo(makeNode("n", cordoned())),
			want: nil,
		},
		{
			name: "cordoned node, toleration with NoExecute effect does not count",
			pod:  makePod("p", withTolerations(toleration(taintUnschedulable, opExists, "", noExecute))),
			node: nodeInfo(makeNode("n", cordoned())),
			want: []string{reasonUnschedulable},
		},
		{
			name: "cordoned node, toleration of another key does not count",
			pod:  makePod("p", withTolerations(toleration(taintNotReady, opExists, "", noSchedule))),
			node: nodeInfo(makeNode("n", cordoned())),
			want: []string{reasonUnschedulable},
		},
	})
}

func TestFilterTaints(t *testing.T) {
	gpu := taint("dedicated", "gpu", noSchedule)
	untoleratedGPU := []string{"node(s) had untolerated taint {dedicated: gpu}"}
	tainted := func(ts ...corev1.Taint) *NodeInfo { return nodeInfo(makeNode("n", withTaints(ts...))) }
	tolerating := func(ts ...corev1.Toleration) *corev1.Pod { return makePod("p", withTolerations(ts...)) }
	runFilterCases(t, filterTaints, []filterCase{
		{name: "no taints", pod: makePod("p"), node: tainted(), want: nil},
		{name: "NoSchedule untolerated", pod: makePod("p"), node: tainted(gpu), want: untoleratedGPU},
		{name: "NoExecute untolerated", pod: makePod("p"), node: tainted(taint("dedicated", "gpu", noExecute)), want: untoleratedGPU},
		{name: "taint without value", pod: makePod("p"), node: tainted(taint("maintenance", "", noSchedule)), want: []string{"node(s) had untolerated taint {maintenance: }"}},
		{name: "PreferNoSchedule is ignored", pod: makePod("p"), node: tainted(taint("dedicated", "gpu", preferNoSchedule)), want: nil},
		{
			name: "first untolerated taint is reported",
			pod:  tolerating(toleration("a", opExists, "", "")),
			node: tainted(taint("a", "1", noSchedule), taint("b", "2", noExecute), taint("c", "3", noSchedule)),
			want: []string{"node(s) had untolerated taint {b: 2}"},
		},
		{name: "tolerated by Equal", pod: tolerating(toleration("dedicated", opEqual, "gpu", noSchedule)), node: tainted(gpu), want: nil},
		{name: "tolerated by empty operator (Equal)", pod: tolerating(toleration("dedicated", "", "gpu", noSchedule)), node: tainted(gpu), want: nil},
		{name: "Equal with another value", pod: tolerating(toleration("dedicated", opEqual, "tpu", noSchedule)), node: tainted(gpu), want: untoleratedGPU},
		{name: "Equal with another key", pod: tolerating(toleration("team", opEqual, "gpu", noSchedule)), node: tainted(gpu), want: untoleratedGPU},
		{name: "tolerated by Exists", pod: tolerating(toleration("dedicated", opExists, "", noSchedule)), node: tainted(gpu), want: nil},
		{name: "tolerated by empty-key Exists", pod: tolerating(toleration("", opExists, "", "")), node: tainted(gpu, taint("x", "y", noExecute)), want: nil},
		{
			name: "empty-key Exists limited to NoSchedule leaves NoExecute untolerated",
			pod:  tolerating(toleration("", opExists, "", noSchedule)),
			node: tainted(gpu, taint("x", "y", noExecute)),
			want: []string{"node(s) had untolerated taint {x: y}"},
		},
		{
			name: "effect-empty toleration tolerates NoSchedule and NoExecute",
			pod:  tolerating(toleration("dedicated", opEqual, "gpu", "")),
			node: tainted(gpu, taint("dedicated", "gpu", noExecute)),
			want: nil,
		},
		{
			name: "NoSchedule toleration does not tolerate NoExecute",
			pod:  tolerating(toleration("dedicated", opEqual, "gpu", noSchedule)),
			node: tainted(taint("dedicated", "gpu", noExecute)),
			want: untoleratedGPU,
		},
		{
			name: "one of several tolerations matches",
			pod:  tolerating(toleration("other", opExists, "", ""), toleration("dedicated", opEqual, "gpu", "")),
			node: tainted(gpu),
			want: nil,
		},
		{name: "Lt: taint 3 < 5 tolerated", pod: tolerating(toleration("level", corev1.TolerationOpLt, "5", noSchedule)), node: tainted(taint("level", "3", noSchedule)), want: nil},
		{name: "Lt: taint 5 not < 5", pod: tolerating(toleration("level", corev1.TolerationOpLt, "5", noSchedule)), node: tainted(taint("level", "5", noSchedule)), want: []string{"node(s) had untolerated taint {level: 5}"}},
		{name: "Lt: taint 7 not < 5", pod: tolerating(toleration("level", corev1.TolerationOpLt, "5", noSchedule)), node: tainted(taint("level", "7", noSchedule)), want: []string{"node(s) had untolerated taint {level: 7}"}},
		{name: "Lt: negative taint value", pod: tolerating(toleration("level", corev1.TolerationOpLt, "0", noSchedule)), node: tainted(taint("level", "-2", noSchedule)), want: nil},
		{name: "Gt: taint 999 > 950 tolerated", pod: tolerating(toleration("sla", corev1.TolerationOpGt, "950", noSchedule)), node: tainted(taint("sla", "999", noSchedule)), want: nil},
		{name: "Gt: taint 950 not > 950", pod: tolerating(toleration("sla", corev1.TolerationOpGt, "950", noSchedule)), node: tainted(taint("sla", "950", noSchedule)), want: []string{"node(s) had untolerated taint {sla: 950}"}},
		{name: "Gt: taint 100 not > 950", pod: tolerating(toleration("sla", corev1.TolerationOpGt, "950", noSchedule)), node: tainted(taint("sla", "100", noSchedule)), want: []string{"node(s) had untolerated taint {sla: 100}"}},
		{name: "Gt: non-numeric taint value", pod: tolerating(toleration("sla", corev1.TolerationOpGt, "1", noSchedule)), node: tainted(taint("sla", "high", noSchedule)), want: []string{"node(s) had untolerated taint {sla: high}"}},
		{name: "Gt: non-numeric toleration value", pod: tolerating(toleration("sla", corev1.TolerationOpGt, "high", noSchedule)), node: tainted(taint("sla", "5", noSchedule)), want: []string{"node(s) had untolerated taint {sla: 5}"}},
		{name: "Gt: key mismatch", pod: tolerating(toleration("other", corev1.TolerationOpGt, "1", noSchedule)), node: tainted(taint("sla", "5", noSchedule)), want: []string{"node(s) had untolerated taint {sla: 5}"}},
		{name: "unknown operator tolerates nothing", pod: tolerating(toleration("dedicated", "Like", "gpu", noSchedule)), node: tainted(gpu), want: untoleratedGPU},
	})
}

func TestFilterNodeAffinity(t *testing.T) {
	labeled := func(kv ...string) *NodeInfo { return nodeInfo(makeNode("node-a", withLabels(kv...))) }
	required := func(terms ...corev1.NodeSelectorTerm) *corev1.Pod {
		return makePod("p", withRequiredAffinity(terms...))
	}
	no := []string{reasonAffinity}
	In, NotIn, Exists, DoesNotExist := corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist
	Gt, Lt := corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt
	name := func(op corev1.NodeSelectorOperator, v ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr("metadata.name", op, v...)}}
	}
	runFilterCases(t, filterNodeAffinity, []filterCase{
		{name: "no selector or affinity", pod: makePod("p"), node: labeled(), want: nil},
		{name: "nodeSelector matches", pod: makePod("p", withNodeSelector("disk", "ssd")), node: labeled("disk", "ssd"), want: nil},
		{name: "nodeSelector value mismatch", pod: makePod("p", withNodeSelector("disk", "ssd")), node: labeled("disk", "hdd"), want: no},
		{name: "nodeSelector label missing", pod: makePod("p", withNodeSelector("disk", "ssd")), node: labeled(), want: no},
		{name: "nodeSelector needs every label", pod: makePod("p", withNodeSelector("disk", "ssd", "zone", "a")), node: labeled("disk", "ssd", "zone", "b"), want: no},
		{name: "nodeSelector with every label", pod: makePod("p", withNodeSelector("disk", "ssd", "zone", "a")), node: labeled("disk", "ssd", "zone", "a", "extra", "x"), want: nil},
		{
			name: "nodeSelector matches but required affinity does not",
			pod:  makePod("p", withNodeSelector("disk", "ssd"), withRequiredAffinity(term(expr("zone", In, "a")))),
			node: labeled("disk", "ssd", "zone", "b"),
			want: no,
		},
		{
			name: "required affinity matches but nodeSelector does not",
			pod:  makePod("p", withNodeSelector("disk", "ssd"), withRequiredAffinity(term(expr("zone", In, "a")))),
			node: labeled("disk", "hdd", "zone", "a"),
			want: no,
		},
		{name: "In matches", pod: required(term(expr("zone", In, "a", "b"))), node: labeled("zone", "b"), want: nil},
		{name: "In value mismatch", pod: required(term(expr("zone", In, "a", "b"))), node: labeled("zone", "c"), want: no},
		{name: "In label missing", pod: required(term(expr("zone", In, "a"))), node: labeled(), want: no},
		{name: "NotIn value not listed", pod: required(term(expr("zone", NotIn, "a"))), node: labeled("zone", "b"), want: nil},
		{name: "NotIn value listed", pod: required(term(expr("zone", NotIn, "a", "b"))), node: labeled("zone", "b"), want: no},
		{name: "NotIn label missing matches", pod: required(term(expr("zone", NotIn, "a"))), node: labeled(), want: nil},
		{name: "Exists with label", pod: required(term(expr("gpu", Exists))), node: labeled("gpu", ""), want: nil},
		{name: "Exists without label", pod: required(term(expr("gpu", Exists))), node: labeled(), want: no},
		{name: "DoesNotExist without label", pod: required(term(expr("gpu", DoesNotExist))), node: labeled(), want: nil},
		{name: "DoesNotExist with label", pod: required(term(expr("gpu", DoesNotExist))), node: labeled("gpu", "true"), want: no},
		{name: "Gt greater", pod: required(term(expr("cores", Gt, "4"))), node: labeled("cores", "8"), want: nil},
		{name: "Gt equal", pod: required(term(expr("cores", Gt, "4"))), node: labeled("cores", "4"), want: no},
		{name: "Gt smaller", pod: required(term(expr("cores", Gt, "4"))), node: labeled("cores", "2"), want: no},
		{name: "Gt compares numbers, not strings", pod: required(term(expr("cores", Gt, "9"))), node: labeled("cores", "10"), want: nil},
		{name: "Gt label missing", pod: required(term(expr("cores", Gt, "4"))), node: labeled(), want: no},
		{name: "Gt label not an integer", pod: required(term(expr("cores", Gt, "4"))), node: labeled("cores", "many"), want: no},
		{name: "Lt smaller", pod: required(term(expr("cores", Lt, "4"))), node: labeled("cores", "2"), want: nil},
		{name: "Lt equal", pod: required(term(expr("cores", Lt, "4"))), node: labeled("cores", "4"), want: no},
		{name: "Lt greater", pod: required(term(expr("cores", Lt, "4"))), node: labeled("cores", "8"), want: no},
		{name: "Lt negative", pod: required(term(expr("temp", Lt, "0"))), node: labeled("temp", "-5"), want: nil},
		{
			name: "terms are ORed: second term matches",
			pod:  required(term(expr("zone", In, "a")), term(expr("zone", In, "b"))),
			node: labeled("zone", "b"),
			want: nil,
		},
		{
			name: "terms are ORed: no term matches",
			pod:  required(term(expr("zone", In, "a")), term(expr("zone", In, "c"))),
			node: labeled("zone", "b"),
			want: no,
		},
		{
			name: "expressions are ANDed: all match",
			pod:  required(term(expr("zone", In, "a"), expr("disk", In, "ssd"), expr("gpu", DoesNotExist))),
			node: labeled("zone", "a", "disk", "ssd"),
			want: nil,
		},
		{
			name: "expressions are ANDed: one fails",
			pod:  required(term(expr("zone", In, "a"), expr("disk", In, "ssd"))),
			node: labeled("zone", "a", "disk", "hdd"),
			want: no,
		},
		{name: "empty term matches nothing", pod: required(corev1.NodeSelectorTerm{}), node: labeled("zone", "a"), want: no},
		{
			name: "empty term ORed with a matching term",
			pod:  required(corev1.NodeSelectorTerm{}, term(expr("zone", In, "a"))),
			node: labeled("zone", "a"),
			want: nil,
		},
		{name: "no terms matches nothing", pod: required(), node: labeled("zone", "a"), want: no},
		{name: "matchFields metadata.name In this node", pod: required(name(In, "node-a")), node: labeled(), want: nil},
		{name: "matchFields metadata.name In other node", pod: required(name(In, "node-b")), node: labeled(), want: no},
		{name: "matchFields metadata.name NotIn this node", pod: required(name(NotIn, "node-a")), node: labeled(), want: no},
		{name: "matchFields metadata.name NotIn other node", pod: required(name(NotIn, "node-b")), node: labeled(), want: nil},
		{
			name: "matchFields on an unsupported field matches nothing",
			pod: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				expr("metadata.uid", NotIn, "x"),
			}}),
			node: labeled(),
			want: no,
		},
		{
			name: "matchFields and matchExpressions are ANDed",
			pod: required(corev1.NodeSelectorTerm{
				MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", In, "a")},
				MatchFields:      []corev1.NodeSelectorRequirement{expr("metadata.name", In, "node-a")},
			}),
			node: labeled("zone", "b"),
			want: no,
		},
		{
			// The DaemonSet controller pins its pods this way.
			name: "daemonset-style pinning with matchFields in one of several terms",
			pod:  required(term(expr("zone", In, "x")), name(In, "node-a")),
			node: labeled("zone", "a"),
			want: nil,
		},
	})
}

func TestFilterHostPorts(t *testing.T) {
	port := func(hostIP string, hostPort int32, proto corev1.Protocol) corev1.ContainerPort {
		return corev1.ContainerPort{ContainerPort: 8080, HostIP: hostIP, HostPort: hostPort, Protocol: proto}
	}
	holding := func(ports ...corev1.ContainerPort) *NodeInfo {
		return nodeInfo(makeNode("n"), makePod("existing", withHostPorts(ports...)))
	}
	wanting := func(ports ...corev1.ContainerPort) *corev1.Pod { return makePod("new", withHostPorts(ports...)) }
	no := []string{reasonPorts}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	runFilterCases(t, filterHostPorts, []filterCase{
		{name: "pod wants no host ports", pod: makePod("new"), node: holding(port("", 80, tcp)), want: nil},
		{name: "node has no host ports in use", pod: wanting(port("", 80, tcp)), node: nodeInfo(makeNode("n")), want: nil},
		{name: "same port and protocol", pod: wanting(port("", 80, tcp)), node: holding(port("", 80, tcp)), want: no},
		{name: "empty protocol means TCP", pod: wanting(port("", 80, "")), node: holding(port("", 80, tcp)), want: no},
		{name: "different protocol is fine", pod: wanting(port("", 80, udp)), node: holding(port("", 80, tcp)), want: nil},
		{name: "different port is fine", pod: wanting(port("", 81, tcp)), node: holding(port("", 80, tcp)), want: nil},
		{name: "different specific IPs are fine", pod: wanting(port("10.0.0.2", 80, tcp)), node: holding(port("10.0.0.1", 80, tcp)), want: nil},
		{name: "same specific IP conflicts", pod: wanting(port("10.0.0.1", 80, tcp)), node: holding(port("10.0.0.1", 80, tcp)), want: no},
		{name: "used on 0.0.0.0, wanted on a specific IP", pod: wanting(port("10.0.0.1", 80, tcp)), node: holding(port("0.0.0.0", 80, tcp)), want: no},
		{name: "used on a specific IP, wanted on 0.0.0.0", pod: wanting(port("0.0.0.0", 80, tcp)), node: holding(port("10.0.0.1", 80, tcp)), want: no},
		{name: "empty hostIP means 0.0.0.0", pod: wanting(port("", 80, tcp)), node: holding(port("10.0.0.1", 80, tcp)), want: no},
		{name: "empty hostIP and explicit 0.0.0.0 conflict", pod: wanting(port("0.0.0.0", 80, tcp)), node: holding(port("", 80, tcp)), want: no},
		{name: "0.0.0.0 on another protocol is fine", pod: wanting(port("", 80, udp)), node: holding(port("10.0.0.1", 80, tcp)), want: nil},
		{name: "containerPort without hostPort takes nothing", pod: wanting(corev1.ContainerPort{ContainerPort: 80}), node: holding(corev1.ContainerPort{ContainerPort: 80}), want: nil},
		{name: "one of several ports conflicts", pod: wanting(port("", 81, tcp), port("", 53, udp)), node: holding(port("", 53, udp), port("", 9000, tcp)), want: no},
		{
			name: "port freed when the holding pod is removed",
			pod:  wanting(port("", 80, tcp)),
			node: func() *NodeInfo {
				ni := holding(port("", 80, tcp))
				ni.RemovePod("default/existing")
				return ni
			}(),
			want: nil,
		},
		{
			name: "port still held by a second pod after one is removed",
			pod:  wanting(port("", 80, tcp)),
			node: func() *NodeInfo {
				ni := holding(port("10.0.0.1", 80, tcp))
				ni.AddPod(NewPodInfo(makePod("other", withHostPorts(port("10.0.0.2", 80, tcp)))))
				ni.RemovePod("default/existing")
				return ni
			}(),
			want: no,
		},
	})
}

func TestFilterResources(t *testing.T) {
	// makeNode: 4 CPUs, 8Gi memory, 100Gi ephemeral storage, 110 pods.
	using := func(kv ...string) *NodeInfo {
		return nodeInfo(makeNode("n"), makePod("existing", withRequests(kv...)))
	}
	req := func(kv ...string) *corev1.Pod { return makePod("new", withRequests(kv...)) }
	runFilterCases(t, filterResources, []filterCase{
		{name: "fits an empty node", pod: req("cpu", "1", "memory", "1Gi", "ephemeral-storage", "1Gi"), node: nodeInfo(makeNode("n")), want: nil},
		{name: "exactly fills the node", pod: req("cpu", "1", "memory", "2Gi", "ephemeral-storage", "50Gi"), node: using("cpu", "3", "memory", "6Gi", "ephemeral-storage", "50Gi"), want: nil},
		{name: "Insufficient cpu", pod: req("cpu", "1", "memory", "1Gi"), node: using("cpu", "3500m"), want: []string{"Insufficient cpu"}},
		{name: "Insufficient cpu by one millicore", pod: req("cpu", "1001m"), node: using("cpu", "3"), want: []string{"Insufficient cpu"}},
		{name: "Insufficient memory", pod: req("cpu", "100m", "memory", "2Gi"), node: using("memory", "7Gi"), want: []string{"Insufficient memory"}},
		{name: "Insufficient ephemeral-storage", pod: req("ephemeral-storage", "10Gi"), node: using("ephemeral-storage", "95Gi"), want: []string{"Insufficient ephemeral-storage"}},
		{
			name: "several shortages reported together",
			pod:  req("cpu", "2", "memory", "2Gi", "ephemeral-storage", "10Gi"),
			node: using("cpu", "3", "memory", "7Gi", "ephemeral-storage", "95Gi"),
			want: []string{"Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage"},
		},
		{name: "larger than the whole node", pod: req("cpu", "5", "memory", "9Gi"), node: nodeInfo(makeNode("n")), want: []string{"Insufficient cpu", "Insufficient memory"}},
		{
			name: "Too many pods when the pod count reaches allocatable pods",
			pod:  req("cpu", "100m"),
			node: nodeInfo(makeNode("n", withAllocatable("cpu", "4", "memory", "8Gi", "ephemeral-storage", "100Gi", "pods", "2")), makePod("a"), makePod("b")),
			want: []string{reasonTooManyPods},
		},
		{
			name: "one pod below allocatable pods fits",
			pod:  req("cpu", "100m"),
			node: nodeInfo(makeNode("n", withAllocatable("cpu", "4", "memory", "8Gi", "ephemeral-storage", "100Gi", "pods", "2")), makePod("a")),
			want: nil,
		},
		{
			name: "Too many pods for a pod requesting nothing",
			pod:  makePod("new"),
			node: nodeInfo(makeNode("n", withAllocatable("cpu", "4", "memory", "8Gi", "pods", "1")), makePod("a")),
			want: []string{reasonTooManyPods},
		},
		{
			name: "Too many pods and Insufficient cpu together",
			pod:  req("cpu", "1"),
			node: nodeInfo(makeNode("n", withAllocatable("cpu", "4", "memory", "8Gi", "pods", "1")), makePod("a", withRequests("cpu", "4"))),
			want: []string{reasonTooManyPods, "Insufficient cpu"},
		},
		{
			name: "node without pods allocatable takes no pod",
			pod:  makePod("new"),
			node: nodeInfo(makeNode("n", withAllocatable("cpu", "4", "memory", "8Gi"))),
			want: []string{reasonTooManyPods},
		},
		{name: "a pod requesting nothing fits a full-CPU node", pod: makePod("new"), node: using("cpu", "4", "memory", "8Gi"), want: nil},
		{name: "a pod requesting only memory fits a full-CPU node", pod: req("memory", "1Gi"), node: using("cpu", "4"), want: nil},
		{
			name: "a pod requesting nothing fits a node already overcommitted",
			pod:  makePod("new"),
			node: nodeInfo(makeNode("n"), makePod("a", withRequests("cpu", "3")), makePod("b", withRequests("cpu", "3"))),
			want: nil,
		},
		{
			name: "node without ephemeral-storage allocatable, pod asks for some",
			pod:  req("ephemeral-storage", "1Gi"),
			node: nodeInfo(makeNode("n", withAllocatable("cpu", "4", "memory", "8Gi", "pods", "10"))),
			want: []string{"Insufficient ephemeral-storage"},
		},
		{
			name: "pod overhead counts",
			pod:  makePod("new", withRequests("cpu", "3900m"), withOverhead("cpu", "200m")),
			node: nodeInfo(makeNode("n")),
			want: []string{"Insufficient cpu"},
		},
		{
			name: "init container counts",
			pod:  makePod("new", withInitContainers(ctr("init", "memory", "9Gi"))),
			node: nodeInfo(makeNode("n")),
			want: []string{"Insufficient memory"},
		},
		{
			name: "removed pod frees its requests",
			pod:  req("cpu", "1"),
			node: func() *NodeInfo {
				ni := using("cpu", "4")
				ni.RemovePod("default/existing")
				return ni
			}(),
			want: nil,
		},
		{
			name: "re-adding the same pod does not count it twice",
			pod:  req("cpu", "2"),
			node: func() *NodeInfo {
				ni := using("cpu", "2")
				ni.AddPod(NewPodInfo(makePod("existing", withRequests("cpu", "2"))))
				return ni
			}(),
			want: nil,
		},
	})
}

// TestRunFilters checks runFilters reports only the first failing
// filter's reasons, as Kubernetes does.
func TestRunFilters(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		node *NodeInfo
		want []string
	}{
		{name: "feasible", pod: makePod("p"), node: nodeInfo(makeNode("n")), want: nil},
		{
			name: "not ready wins over taint and resources",
			pod:  makePod("p", withRequests("cpu", "8")),
			node: nodeInfo(makeNode("n", withReady(corev1.ConditionFalse), withTaints(taint("a", "b", noSchedule)))),
			want: []string{reasonNotReady},
		},
		{
			name: "cordon wins over taint",
			pod:  makePod("p"),
			node: nodeInfo(makeNode("n", cordoned(), withTaints(taint("a", "b", noSchedule)))),
			want: []string{reasonUnschedulable},
		},
		{
			name: "taint wins over affinity and resources",
			pod:  makePod("p", withRequests("cpu", "8"), withNodeSelector("x", "y")),
			node: nodeInfo(makeNode("n", withTaints(taint("a", "b", noSchedule)))),
			want: []string{"node(s) had untolerated taint {a: b}"},
		},
		{
			name: "affinity wins over resources",
			pod:  makePod("p", withRequests("cpu", "8"), withNodeSelector("x", "y")),
			node: nodeInfo(makeNode("n")),
			want: []string{reasonAffinity},
		},
		{
			name: "resources",
			pod:  makePod("p", withRequests("cpu", "8", "memory", "10Gi")),
			node: nodeInfo(makeNode("n")),
			want: []string{"Insufficient cpu", "Insufficient memory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runFilters(NewPodInfo(tt.pod), tt.node, testNow)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestToleratesTaint is the toleration matching table on its own.
func TestToleratesTaint(t *testing.T) {
	tests := []struct {
		name string
		tol  corev1.Toleration
		tnt  corev1.Taint
		want bool
	}{
		{"Equal same key value effect", toleration("k", opEqual, "v", noSchedule), taint("k", "v", noSchedule), true},
		{"Equal other value", toleration("k", opEqual, "v", noSchedule), taint("k", "w", noSchedule), false},
		{"Equal empty value matches empty value", toleration("k", opEqual, "", noSchedule), taint("k", "", noSchedule), true},
		{"Equal other effect", toleration("k", opEqual, "v", noSchedule), taint("k", "v", noExecute), false},
		{"Equal any effect", toleration("k", opEqual, "v", ""), taint("k", "v", preferNoSchedule), true},
		{"Exists ignores value", toleration("k", opExists, "", noExecute), taint("k", "anything", noExecute), true},
		{"Exists other key", toleration("k", opExists, "", ""), taint("j", "v", noExecute), false},
		{"empty key Exists matches all", toleration("", opExists, "", ""), taint("j", "v", noExecute), true},
		{"Lt", toleration("k", corev1.TolerationOpLt, "10", ""), taint("k", "9", noSchedule), true},
		{"Lt not", toleration("k", corev1.TolerationOpLt, "10", ""), taint("k", "10", noSchedule), false},
		{"Gt", toleration("k", corev1.TolerationOpGt, "10", ""), taint("k", "11", noSchedule), true},
		{"Gt not", toleration("k", corev1.TolerationOpGt, "10", ""), taint("k", "10", noSchedule), false},
		{"Gt empty taint value", toleration("k", corev1.TolerationOpGt, "10", ""), taint("k", "", noSchedule), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toleratesTaint(&tt.tol, &tt.tnt); got != tt.want {
				t.Fatalf("toleratesTaint(%+v, %+v) = %v, want %v", tt.tol, tt.tnt, got, tt.want)
			}
		})
	}
}

// Kubernetes taints a node whose Ready condition is Unknown (its kubelet
// stopped reporting) with node.kubernetes.io/unreachable, not
// node.kubernetes.io/not-ready (node lifecycle controller,
// nodeConditionToTaintKeyStatusMap; documented on the "Taints and
// Tolerations" page). So on a Ready=Unknown node, a pod tolerating
// unreachable may be placed and one tolerating only not-ready may not.
func TestFilterNodeReadyUnknownIsUnreachable(t *testing.T) {
	unknown := func() *NodeInfo { return nodeInfo(makeNode("n", withReady(corev1.ConditionUnknown))) }
	cases := []filterCase{
		{
			name: "Ready=Unknown, pod tolerates node.kubernetes.io/unreachable:NoSchedule",
			pod:  makePod("p", withTolerations(toleration(taintUnreachable, opExists, "", noSchedule))),
			node: unknown(),
			want: nil,
		},
		{
			name: "Ready=Unknown, pod tolerates only node.kubernetes.io/not-ready:NoSchedule",
			pod:  makePod("p", withTolerations(toleration(taintNotReady, opExists, "", noSchedule))),
			node: unknown(),
			want: []string{reasonNotReady},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := filterNodeReady(NewPodInfo(tc.pod), tc.node, testNow)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("filterNodeReady: got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// Kubernetes' NodePorts filter takes the host ports of containers and of
// restartable (sidecar) init containers only (kubernetes/kubernetes#132040):
// a regular init container runs to completion and the kubelet does not
// reserve its host ports.
func TestFilterHostPortsInitContainers(t *testing.T) {
	hp := corev1.ContainerPort{ContainerPort: 8081, HostPort: 8081}
	withInit := func(name string, c corev1.Container) *corev1.Pod {
		c.Ports = []corev1.ContainerPort{hp}
		return makePod(name, withInitContainers(c))
	}
	t.Run("sidecar host port is held", func(t *testing.T) {
		node := nodeInfo(makeNode("n"), withInit("existing", sidecar("proxy")))
		got := filterHostPorts(NewPodInfo(makePod("new", withHostPorts(hp))), node, testNow)
		if !reflect.DeepEqual(got, []string{reasonPorts}) {
			t.Fatalf("got %q, want %q", got, []string{reasonPorts})
		}
	})
	t.Run("regular init container host port is not held", func(t *testing.T) {
		node := nodeInfo(makeNode("n"), withInit("existing", ctr("init")))
		got := filterHostPorts(NewPodInfo(makePod("new", withHostPorts(hp))), node, testNow)
		if got != nil {
			t.Errorf("filterHostPorts counted a regular init container's host port: got %q, want nil", got)
		}
	})
	t.Run("regular init container host port is not wanted", func(t *testing.T) {
		node := nodeInfo(makeNode("n"), makePod("existing", withHostPorts(hp)))
		got := filterHostPorts(NewPodInfo(withInit("new", ctr("init"))), node, testNow)
		if got != nil {
			t.Errorf("filterHostPorts counted a regular init container's host port: got %q, want nil", got)
		}
	})
}
