package scheduler

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestFitErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *FitError
		want string
	}{
		{
			name: "Kubernetes' example",
			err: &FitError{NumAllNodes: 3, Reasons: map[string]int{
				"Insufficient cpu": 2,
				"node(s) had untolerated taint {dedicated: gpu}": 1,
			}},
			want: "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.",
		},
		{
			name: "single reason",
			err:  &FitError{NumAllNodes: 1, Reasons: map[string]int{reasonNotReady: 1}},
			want: "0/1 nodes are available: 1 node(s) were not ready.",
		},
		{
			name: "reasons sorted as strings, count first",
			err: &FitError{NumAllNodes: 12, Reasons: map[string]int{
				"Insufficient memory": 1,
				"Insufficient cpu":    2,
				reasonAffinity:        10,
				reasonTooManyPods:     1,
			}},
			// Kubernetes sorts the "<count> <reason>" strings, so "10 …"
			// sorts before "2 …".
			want: "0/12 nodes are available: 1 Insufficient memory, 1 Too many pods, 10 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu.",
		},
		{
			name: "one node with several reasons counts each",
			err: &FitError{NumAllNodes: 1, Reasons: map[string]int{
				"Insufficient cpu":    1,
				"Insufficient memory": 1,
			}},
			want: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() =\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func TestScheduleFitError(t *testing.T) {
	tests := []struct {
		name  string
		pod   *corev1.Pod
		nodes []*NodeInfo
		want  string
	}{
		{
			name: "taint and insufficient cpu",
			pod:  makePod("p", withRequests("cpu", "3")),
			nodes: []*NodeInfo{
				nodeInfo(makeNode("gpu", withTaints(taint("dedicated", "gpu", noSchedule)))),
				nodeInfo(makeNode("a"), makePod("x", withRequests("cpu", "2"))),
				nodeInfo(makeNode("b"), makePod("y", withRequests("cpu", "2"))),
			},
			want: "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.",
		},
		{
			name: "only the first failing filter of a node counts",
			pod:  makePod("p", withRequests("cpu", "8", "memory", "16Gi")),
			nodes: []*NodeInfo{
				nodeInfo(makeNode("down", withReady(corev1.ConditionFalse))),
				nodeInfo(makeNode("cordoned", cordoned())),
				nodeInfo(makeNode("small")),
			},
			want: "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) were not ready, 1 node(s) were unschedulable.",
		},
		{
			name: "lease expired and ports",
			pod:  makePod("p", withHostPorts(corev1.ContainerPort{ContainerPort: 80, HostPort: 80})),
			nodes: []*NodeInfo{
				withLease(nodeInfo(makeNode("silent")), nil),
				nodeInfo(makeNode("a"), makePod("x", withHostPorts(corev1.ContainerPort{ContainerPort: 80, HostPort: 80}))),
			},
			want: "0/2 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) had no live heartbeat lease.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewAlgorithm(1).Schedule(NewPodInfo(tt.pod), tt.nodes, testNow)
			if got != nil {
				t.Fatalf("Schedule chose %s, want none", got.Node.Name)
			}
			var fe *FitError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want *FitError", err, err)
			}
			if fe.NumAllNodes != len(tt.nodes) {
				t.Errorf("NumAllNodes = %d, want %d", fe.NumAllNodes, len(tt.nodes))
			}
			if err.Error() != tt.want {
				t.Fatalf("message =\n  %q\nwant\n  %q", err.Error(), tt.want)
			}
		})
	}
}

func TestScheduleNoNodes(t *testing.T) {
	for _, nodes := range [][]*NodeInfo{nil, {}} {
		got, err := NewAlgorithm(1).Schedule(NewPodInfo(makePod("p")), nodes, testNow)
		if got != nil || !errors.Is(err, ErrNoNodes) {
			t.Fatalf("Schedule(%d nodes) = %v, %v; want nil, ErrNoNodes", len(nodes), got, err)
		}
	}
	if got, want := ErrNoNodes.Error(), "no nodes available to schedule pods"; got != want {
		t.Fatalf("ErrNoNodes = %q, want Kubernetes' %q", got, want)
	}
}

func TestSchedulePicksTheOnlyFeasibleNode(t *testing.T) {
	a := NewAlgorithm(7)
	pod := NewPodInfo(makePod("p", withRequests("cpu", "1")))
	nodes := []*NodeInfo{
		nodeInfo(makeNode("tainted", withTaints(taint("dedicated", "gpu", noSchedule)))),
		nodeInfo(makeNode("cordoned", cordoned())),
		// The only feasible node is also the busiest: scores do not matter.
		nodeInfo(makeNode("busy"), makePod("x", withRequests("cpu", "3", "memory", "7Gi"))),
		nodeInfo(makeNode("full"), makePod("y", withRequests("cpu", "3500m"))),
	}
	for i := 0; i < 20; i++ {
		got, err := a.Schedule(pod, nodes, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if got.Node.Name != "busy" {
			t.Fatalf("run %d: chose %s, want busy", i, got.Node.Name)
		}
	}
}

func TestSchedulePicksTheBestNode(t *testing.T) {
	a := NewAlgorithm(7)
	pod := NewPodInfo(makePod("p", withRequests("cpu", "1", "memory", "1Gi")))
	nodes := []*NodeInfo{
		nodeInfo(makeNode("busy"), makePod("x", withRequests("cpu", "2", "memory", "2Gi"))),
		nodeInfo(makeNode("empty")),
		nodeInfo(makeNode("soft-tainted", withTaints(taint("spot", "true", preferNoSchedule)))),
	}
	for i := 0; i < 20; i++ {
		got, err := a.Schedule(pod, nodes, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if got.Node.Name != "empty" {
			t.Fatalf("run %d: chose %s, want empty", i, got.Node.Name)
		}
	}
}

func TestScheduleBreaksTiesRandomly(t *testing.T) {
	nodes := equalNodes(4)
	pod := NewPodInfo(makePod("p"))
	a := NewAlgorithm(42)
	counts := map[string]int{}
	const runs = 400
	for i := 0; i < runs; i++ {
		got, err := a.Schedule(pod, nodes, testNow)
		if err != nil {
			t.Fatal(err)
		}
		counts[got.Node.Name]++
	}
	for _, n := range nodes {
		// Uniform would be 100 each; 40 is far outside chance.
		if counts[n.Node.Name] < runs/10 {
			t.Errorf("node %s chosen %d/%d times: ties are not broken uniformly (%v)", n.Node.Name, counts[n.Node.Name], runs, counts)
		}
	}

	// The same seed makes the same choices.
	b, c := NewAlgorithm(99), NewAlgorithm(99)
	for i := 0; i < 50; i++ {
		x, _ := b.Schedule(pod, nodes, testNow)
		y, _ := c.Schedule(pod, nodes, testNow)
		if x != y {
			t.Fatalf("run %d: same seed chose %s and %s", i, x.Node.Name, y.Node.Name)
		}
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct{ nodes, want int }{
		{0, 0},
		{1, 1},
		{50, 50},
		{99, 99},
		{100, 100}, // 50% of 100 is 50, raised to the minimum of 100
		{101, 100},
		{250, 120},  // 48%
		{1000, 420}, // 42%
		{5000, 500}, // 10%
		{6000, 300}, // 2% raised to 5%
		{10000, 500},
		{15000, 750},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.nodes), func(t *testing.T) {
			if got := numFeasibleNodesToFind(tt.nodes); got != tt.want {
				t.Fatalf("numFeasibleNodesToFind(%d) = %d, want %d", tt.nodes, got, tt.want)
			}
		})
	}
}

func TestScheduleLargeClusterStopsEarlyAndRotates(t *testing.T) {
	const all, want = 5000, 500
	nodes := equalNodes(all)
	index := map[*NodeInfo]int{}
	for i, n := range nodes {
		index[n] = i
	}
	pod := NewPodInfo(makePod("p"))
	a := NewAlgorithm(3)
	for call := 0; call < 12; call++ {
		start := (call * want) % all
		got, err := a.Schedule(pod, nodes, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.feasible) != want {
			t.Fatalf("call %d: %d feasible nodes found, want to stop at %d", call, len(a.feasible), want)
		}
		for i, n := range a.feasible {
			if index[n] != (start+i)%all {
				t.Fatalf("call %d: feasible[%d] is node %d, want %d (search should start where the previous stopped)", call, i, index[n], (start+i)%all)
			}
		}
		if i := index[got]; (i-start+all)%all >= want {
			t.Fatalf("call %d: chose node %d outside the searched window [%d, %d)", call, i, start, start+want)
		}
		if a.next%all != (start+want)%all {
			t.Fatalf("call %d: next = %d, want %d", call, a.next%all, (start+want)%all)
		}
	}
}

func TestScheduleLargeClusterCountsInfeasibleNodesAsProcessed(t *testing.T) {
	// Every other node is cordoned: finding 500 feasible nodes takes 1000.
	nodes := make([]*NodeInfo, 5000)
	for i := range nodes {
		var opts []nodeOpt
		if i%2 == 1 {
			opts = append(opts, cordoned())
		}
		nodes[i] = nodeInfo(makeNode(fmt.Sprintf("node-%05d", i), opts...))
	}
	a := NewAlgorithm(3)
	if _, err := a.Schedule(NewPodInfo(makePod("p")), nodes, testNow); err != nil {
		t.Fatal(err)
	}
	if len(a.feasible) != 500 {
		t.Fatalf("%d feasible, want 500", len(a.feasible))
	}
	if a.next%len(nodes) != 999 {
		t.Fatalf("next = %d, want 999 (the last feasible node found is 998)", a.next%len(nodes))
	}
}

func TestScheduleSmallClusterSearchesAll(t *testing.T) {
	nodes := equalNodes(99)
	a := NewAlgorithm(3)
	for call := 0; call < 3; call++ {
		if _, err := a.Schedule(NewPodInfo(makePod("p")), nodes, testNow); err != nil {
			t.Fatal(err)
		}
		if len(a.feasible) != 99 {
			t.Fatalf("call %d: %d feasible, want all 99", call, len(a.feasible))
		}
	}
}

// TestScheduleBurstSpreads schedules identical pods one after another,
// counting each on its node before the next decision (as the cache does
// with assumed pods): they must spread evenly over equal nodes.
func TestScheduleBurstSpreads(t *testing.T) {
	tests := []struct {
		name  string
		nodes []nodeOpt
		pod   func(i int) *corev1.Pod
		count int
	}{
		{
			name:  "replicas of one ReplicaSet requesting nothing",
			pod:   func(i int) *corev1.Pod { return makePod(fmt.Sprintf("web-%d", i), withOwner("rs-web")) },
			count: 30,
		},
		{
			name:  "replicas of one ReplicaSet on big nodes",
			nodes: []nodeOpt{withAllocatable("cpu", "96", "memory", "768Gi", "ephemeral-storage", "1Ti", "pods", "250")},
			pod: func(i int) *corev1.Pod {
				return makePod(fmt.Sprintf("web-%d", i), withOwner("rs-web"), withRequests("cpu", "10m", "memory", "16Mi"))
			},
			count: 60,
		},
		{
			name: "bare pods with requests",
			pod: func(i int) *corev1.Pod {
				return makePod(fmt.Sprintf("job-%d", i), withRequests("cpu", "250m", "memory", "256Mi"))
			},
			count: 24,
		},
		{
			name:  "bare pods requesting nothing",
			pod:   func(i int) *corev1.Pod { return makePod(fmt.Sprintf("job-%d", i)) },
			count: 30,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				nodes := equalNodes(3, tt.nodes...)
				a := NewAlgorithm(seed)
				for i := 0; i < tt.count; i++ {
					pi := NewPodInfo(tt.pod(i))
					got, err := a.Schedule(pi, nodes, testNow)
					if err != nil {
						t.Fatalf("seed %d, pod %d: %v", seed, i, err)
					}
					got.AddPod(pi)
					lo, hi := len(nodes[0].Pods), len(nodes[0].Pods)
					for _, n := range nodes[1:] {
						lo, hi = min(lo, len(n.Pods)), max(hi, len(n.Pods))
					}
					if hi-lo > 1 {
						t.Fatalf("seed %d, after %d pods: pods per node %d/%d/%d differ by more than 1",
							seed, i+1, len(nodes[0].Pods), len(nodes[1].Pods), len(nodes[2].Pods))
					}
				}
			}
		})
	}
}
