package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// scoreCase is one row of a scorer's table: the scores the nodes get, in
// order.
type scoreCase struct {
	name  string
	pod   *corev1.Pod
	nodes []*NodeInfo
	want  []int64
}

func runScoreCases(t *testing.T, score func(*PodInfo, []*NodeInfo, []int64), cases []scoreCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]int64, len(tc.nodes)) // the algorithm hands scorers a zeroed slice
			score(NewPodInfo(tc.pod), tc.nodes, got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("scores = %v, want %v", got, tc.want)
			}
		})
	}
}

// named is a node called name with the given pods.
func named(name string, opts []nodeOpt, pods ...*corev1.Pod) *NodeInfo {
	return nodeInfo(makeNode(name, opts...), pods...)
}

func TestScoreLeastAllocated(t *testing.T) {
	// Nodes: 4 CPUs, 8Gi.
	runScoreCases(t, scoreLeastAllocated, []scoreCase{
		{
			name: "prefers the emptier node",
			pod:  makePod("p", withRequests("cpu", "1", "memory", "1Gi")),
			nodes: []*NodeInfo{
				named("empty", nil),
				named("busy", nil, makePod("a", withRequests("cpu", "2", "memory", "4Gi"))),
			},
			// empty: cpu (4-1)/4 = 75, memory (8-1)/8 = 87 → 81.
			// busy:  cpu (4-3)/4 = 25, memory (8-5)/8 = 37 → 31.
			want: []int64{81, 31},
		},
		{
			name: "pods requesting nothing count with 100m/200Mi",
			pod:  makePod("p"),
			nodes: []*NodeInfo{
				named("empty", nil),
				named("ten-empty-pods", nil, makePods(10)...),
			},
			// empty: cpu 3900/4000 = 97, memory 7992/8192 = 97 → 97.
			// 10 pods + p: cpu 2900/4000 = 72, memory (8192-2200)/8192 = 73 → 72.
			want: []int64{97, 72},
		},
		{
			name: "bigger node scores higher for the same use",
			pod:  makePod("p", withRequests("cpu", "1", "memory", "1Gi")),
			nodes: []*NodeInfo{
				named("small", nil),
				named("big", []nodeOpt{withAllocatable("cpu", "8", "memory", "16Gi", "pods", "110")}),
			},
			// big: cpu 7/8 = 87, memory 15/16 = 93 → 90.
			want: []int64{81, 90},
		},
		{
			name: "overcommitted node scores 0",
			pod:  makePod("p", withRequests("cpu", "1", "memory", "1Gi")),
			nodes: []*NodeInfo{
				named("full", nil, makePod("a", withRequests("cpu", "4", "memory", "8Gi"))),
			},
			want: []int64{0},
		},
	})
}

// makePods is n pods requesting nothing.
func makePods(n int) []*corev1.Pod {
	out := make([]*corev1.Pod, n)
	for i := range out {
		out[i] = makePod("filler-" + string(rune('a'+i)))
	}
	return out
}

func TestScoreBalanced(t *testing.T) {
	runScoreCases(t, scoreBalanced, []scoreCase{
		{
			name: "prefers equal cpu and memory fractions",
			pod:  makePod("p", withRequests("cpu", "1", "memory", "2Gi")),
			nodes: []*NodeInfo{
				named("balanced", nil),
				named("cpu-heavy", nil, makePod("a", withRequests("cpu", "2"))),
			},
			// balanced: cpu 1/4, memory 2/8 → 100.
			// cpu-heavy: cpu 3/4, memory 2/8 → 100 × (1 − 0.5/2) = 75.
			want: []int64{100, 75},
		},
		{
			name: "placing the pod can even a node out",
			pod:  makePod("p", withRequests("memory", "4Gi")),
			nodes: []*NodeInfo{
				named("empty", nil),
				named("cpu-used", nil, makePod("a", withRequests("cpu", "2"))),
			},
			// empty: cpu 0, memory 0.5 → 75; cpu-used: cpu 0.5, memory 0.5 → 100.
			want: []int64{75, 100},
		},
		{
			name: "fractions are capped at 1",
			pod:  makePod("p", withRequests("cpu", "8")),
			nodes: []*NodeInfo{
				named("n", nil),
			},
			// cpu 2 → 1, memory 0 → 100 × (1 − 1/2) = 50.
			want: []int64{50},
		},
		{
			name:  "real requests, not scoring defaults",
			pod:   makePod("p"),
			nodes: []*NodeInfo{named("n", nil, makePod("a"))},
			want:  []int64{100},
		},
	})
}

func TestScoreSpread(t *testing.T) {
	mine := func(name string) *corev1.Pod { return makePod(name, withOwner("rs-1")) }
	theirs := func(name string) *corev1.Pod { return makePod(name, withOwner("rs-2")) }
	runScoreCases(t, scoreSpread, []scoreCase{
		{
			name: "100 for nodes without pods of the same owner, less for more",
			pod:  mine("p"),
			nodes: []*NodeInfo{
				named("none", nil),
				named("one", nil, mine("a")),
				named("two", nil, mine("b"), mine("c")),
				named("others-only", nil, theirs("d"), theirs("e"), theirs("f")),
				named("one-and-others", nil, mine("g"), theirs("h")),
			},
			want: []int64{100, 50, 0, 100, 50},
		},
		{
			name:  "no node has a pod of the owner: all 100",
			pod:   mine("p"),
			nodes: []*NodeInfo{named("a", nil), named("b", nil, theirs("x"))},
			want:  []int64{100, 100},
		},
		{
			name:  "every node has the same number: all 0 (no preference)",
			pod:   mine("p"),
			nodes: []*NodeInfo{named("a", nil, mine("x")), named("b", nil, mine("y"))},
			want:  []int64{0, 0},
		},
		{
			name:  "pod without controller owner: no preference",
			pod:   makePod("p"),
			nodes: []*NodeInfo{named("a", nil), named("b", nil, mine("x"))},
			want:  []int64{0, 0},
		},
		{
			name: "owner reference that is not the controller does not count",
			pod: makePod("p", func(p *corev1.Pod) {
				withOwner("rs-1")(p)
				p.OwnerReferences[0].Controller = nil
			}),
			nodes: []*NodeInfo{named("a", nil), named("b", nil, mine("x"))},
			want:  []int64{0, 0},
		},
		{
			name: "removing a pod lowers the count",
			pod:  mine("p"),
			nodes: []*NodeInfo{
				named("a", nil, mine("x")),
				func() *NodeInfo {
					ni := named("b", nil, mine("y"), mine("z"))
					ni.RemovePod("default/y")
					ni.RemovePod("default/z")
					return ni
				}(),
			},
			want: []int64{0, 100},
		},
	})
}

func TestScoreNodeAffinity(t *testing.T) {
	prefer := func(weight int32, t corev1.NodeSelectorTerm) corev1.PreferredSchedulingTerm {
		return corev1.PreferredSchedulingTerm{Weight: weight, Preference: t}
	}
	in := func(k, v string) corev1.NodeSelectorTerm { return term(expr(k, corev1.NodeSelectorOpIn, v)) }
	nodes := func() []*NodeInfo {
		return []*NodeInfo{
			named("both", []nodeOpt{withLabels("zone", "a", "disk", "ssd")}),
			named("ssd", []nodeOpt{withLabels("disk", "ssd")}),
			named("zone-a", []nodeOpt{withLabels("zone", "a")}),
			named("neither", nil),
		}
	}
	runScoreCases(t, scoreNodeAffinity, []scoreCase{
		{
			name:  "weights of matching terms summed, normalized to 100",
			pod:   makePod("p", withPreferredAffinity(prefer(10, in("zone", "a")), prefer(30, in("disk", "ssd")))),
			nodes: nodes(),
			// 40, 30, 10, 0 → ×100/40.
			want: []int64{100, 75, 25, 0},
		},
		{
			name:  "best matching node gets 100 even if it matches only some terms",
			pod:   makePod("p", withPreferredAffinity(prefer(10, in("zone", "a")), prefer(30, in("disk", "nvme")))),
			nodes: nodes(),
			want:  []int64{100, 0, 100, 0},
		},
		{
			name:  "no node matches: all 0",
			pod:   makePod("p", withPreferredAffinity(prefer(50, in("zone", "z")))),
			nodes: nodes(),
			want:  []int64{0, 0, 0, 0},
		},
		{
			name:  "no preferences: all 0",
			pod:   makePod("p"),
			nodes: nodes(),
			want:  []int64{0, 0, 0, 0},
		},
		{
			name:  "weight 0 terms are ignored",
			pod:   makePod("p", withPreferredAffinity(prefer(0, in("disk", "ssd")), prefer(20, in("zone", "a")))),
			nodes: nodes(),
			want:  []int64{100, 0, 100, 0},
		},
		{
			name:  "empty preference matches nothing",
			pod:   makePod("p", withPreferredAffinity(prefer(100, corev1.NodeSelectorTerm{}), prefer(1, in("disk", "ssd")))),
			nodes: nodes(),
			want:  []int64{100, 100, 0, 0},
		},
		{
			name: "required affinity does not score",
			pod: makePod("p", withRequiredAffinity(in("zone", "a")),
				withPreferredAffinity(prefer(5, in("disk", "ssd")))),
			nodes: nodes(),
			want:  []int64{100, 100, 0, 0},
		},
	})
}

func TestScoreTaints(t *testing.T) {
	soft := func(k string) corev1.Taint { return taint(k, "v", preferNoSchedule) }
	runScoreCases(t, scoreTaints, []scoreCase{
		{
			name: "prefers nodes with fewer untolerated PreferNoSchedule taints",
			pod:  makePod("p"),
			nodes: []*NodeInfo{
				named("clean", nil),
				named("one", []nodeOpt{withTaints(soft("a"))}),
				named("two", []nodeOpt{withTaints(soft("a"), soft("b"))}),
			},
			want: []int64{100, 50, 0},
		},
		{
			name: "tolerated taints do not count",
			pod:  makePod("p", withTolerations(toleration("a", opExists, "", preferNoSchedule))),
			nodes: []*NodeInfo{
				named("tolerated", []nodeOpt{withTaints(soft("a"))}),
				named("untolerated", []nodeOpt{withTaints(soft("b"))}),
			},
			want: []int64{100, 0},
		},
		{
			name: "toleration with another effect does not tolerate PreferNoSchedule",
			pod:  makePod("p", withTolerations(toleration("a", opExists, "", noSchedule))),
			nodes: []*NodeInfo{
				named("clean", nil),
				named("soft-a", []nodeOpt{withTaints(soft("a"))}),
			},
			want: []int64{100, 0},
		},
		{
			name: "NoSchedule and NoExecute taints do not score",
			pod:  makePod("p", withTolerations(toleration("", opExists, "", noSchedule), toleration("", opExists, "", noExecute))),
			nodes: []*NodeInfo{
				named("hard", []nodeOpt{withTaints(taint("a", "", noSchedule), taint("b", "", noExecute))}),
				named("soft", []nodeOpt{withTaints(soft("a"))}),
			},
			want: []int64{100, 0},
		},
		{
			name:  "no soft taints anywhere: all 100",
			pod:   makePod("p"),
			nodes: []*NodeInfo{named("a", nil), named("b", nil)},
			want:  []int64{100, 100},
		},
	})
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		scores  []int64
		largest int64
		reverse bool
		want    []int64
	}{
		{"scale up", []int64{0, 1, 2, 4}, 4, false, []int64{0, 25, 50, 100}},
		{"reverse", []int64{0, 1, 2, 4}, 4, true, []int64{100, 75, 50, 0}},
		{"all zero", []int64{0, 0}, 0, false, []int64{0, 0}},
		{"all zero reversed", []int64{0, 0}, 0, true, []int64{100, 100}},
		{"integer division truncates", []int64{1, 3}, 3, false, []int64{33, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := append([]int64(nil), tt.scores...)
			normalize(got, tt.largest, tt.reverse)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("normalize(%v, %d, %v) = %v, want %v", tt.scores, tt.largest, tt.reverse, got, tt.want)
			}
		})
	}
}
