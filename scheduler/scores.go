package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// maxScore is the most a scorer gives a node, as in Kubernetes.
const maxScore = 100

// A scorer rates each feasible node for the pod from 0 to maxScore,
// writing scores[i] for nodes[i].
type scorer struct {
	name   string
	weight int64
	score  func(pi *PodInfo, nodes []*NodeInfo, scores []int64)
}

// scorers and their weights are Kubernetes' defaults for the same plugins.
var scorers = []scorer{
	{"LeastAllocated", 1, scoreLeastAllocated},
	{"BalancedAllocation", 1, scoreBalanced},
	{"SpreadOwner", 2, scoreSpread},
	{"NodeAffinity", 2, scoreNodeAffinity},
	{"TaintToleration", 3, scoreTaints},
}

// scoreLeastAllocated favours nodes with the most CPU and memory left after
// the pod (counted with the scoring defaults for pods requesting nothing).
func scoreLeastAllocated(pi *PodInfo, nodes []*NodeInfo, scores []int64) {
	for i, n := range nodes {
		used := n.NonZero
		used.add(pi.NonZero)
		scores[i] = (leastAllocated(used.MilliCPU, n.Allocatable.MilliCPU) + leastAllocated(used.Memory, n.Allocatable.Memory)) / 2
	}
}

func leastAllocated(requested, capacity int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxScore / capacity
}

// scoreBalanced favours nodes whose CPU and memory would be used in equal
// fractions: 100 × (1 − the standard deviation of the two fractions).
func scoreBalanced(pi *PodInfo, nodes []*NodeInfo, scores []int64) {
	for i, n := range nodes {
		used := n.Requested
		used.add(pi.Requests)
		cpu, mem := fraction(used.MilliCPU, n.Allocatable.MilliCPU), fraction(used.Memory, n.Allocatable.Memory)
		d := cpu - mem
		if d < 0 {
			d = -d
		}
		scores[i] = int64((1 - d/2) * maxScore)
	}
}

func fraction(requested, capacity int64) float64 {
	if capacity <= 0 {
		return 1
	}
	return min(float64(requested)/float64(capacity), 1)
}

// scoreSpread favours nodes with fewer pods of the same controller (the
// same ReplicaSet, say), so replicas land on different nodes.
func scoreSpread(pi *PodInfo, nodes []*NodeInfo, scores []int64) {
	if pi.Owner == "" {
		return
	}
	var most int
	for _, n := range nodes {
		most = max(most, n.owners[pi.Owner])
	}
	for i, n := range nodes {
		if most == 0 {
			scores[i] = maxScore
			continue
		}
		scores[i] = int64(most-n.owners[pi.Owner]) * maxScore / int64(most)
	}
}

// scoreNodeAffinity adds up the weights of the preferred node affinity
// terms a node matches, scaled so the best node scores maxScore.
func scoreNodeAffinity(pi *PodInfo, nodes []*NodeInfo, scores []int64) {
	a := pi.Pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return
	}
	terms := a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	var best int64
	for i, n := range nodes {
		var sum int64
		for j := range terms {
			if terms[j].Weight != 0 && matchesTerm(n.Node, &terms[j].Preference) {
				sum += int64(terms[j].Weight)
			}
		}
		scores[i] = sum
		best = max(best, sum)
	}
	normalize(scores, best, false)
}

// scoreTaints favours nodes with fewer PreferNoSchedule taints the pod does
// not tolerate.
func scoreTaints(pi *PodInfo, nodes []*NodeInfo, scores []int64) {
	var most int64
	for i, n := range nodes {
		var count int64
		for j := range n.Node.Spec.Taints {
			t := &n.Node.Spec.Taints[j]
			if t.Effect == corev1.TaintEffectPreferNoSchedule && !toleratedBy(t, pi.Pod.Spec.Tolerations) {
				count++
			}
		}
		scores[i] = count
		most = max(most, count)
	}
	normalize(scores, most, true)
}

// normalize scales scores to 0..maxScore by their largest value; reverse
// makes the largest the worst.
func normalize(scores []int64, largest int64, reverse bool) {
	for i := range scores {
		switch {
		case largest == 0 && reverse:
			scores[i] = maxScore
		case largest == 0:
			scores[i] = 0
		case reverse:
			scores[i] = maxScore - scores[i]*maxScore/largest
		default:
			scores[i] = scores[i] * maxScore / largest
		}
	}
}
