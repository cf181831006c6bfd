package scheduler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// ErrNoNodes is the failure when the cluster has no nodes at all.
var ErrNoNodes = errors.New("no nodes available to schedule pods")

// FitError is why no node fits a pod: how many nodes gave each reason.
type FitError struct {
	NumAllNodes int
	Reasons     map[string]int
}

// Error is Kubernetes' message: "0/3 nodes are available: 1 node(s) had
// untolerated taint {dedicated: gpu}, 2 Insufficient cpu." (reasons sorted).
func (e *FitError) Error() string {
	list := make([]string, 0, len(e.Reasons))
	for reason, n := range e.Reasons {
		list = append(list, fmt.Sprintf("%d %s", n, reason))
	}
	sort.Strings(list)
	return fmt.Sprintf("0/%d nodes are available: %s.", e.NumAllNodes, strings.Join(list, ", "))
}

// Algorithm picks nodes for pods. It is not safe for concurrent use; the
// scheduler runs one decision at a time.
type Algorithm struct {
	rng  *rand.Rand
	next int // where the next search for feasible nodes starts

	feasible []*NodeInfo
	total    []int64
	scratch  []int64
}

// NewAlgorithm returns an algorithm breaking ties with a generator seeded
// by seed.
func NewAlgorithm(seed uint64) *Algorithm {
	return &Algorithm{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Kubernetes' adaptive percentage of nodes to score: in a large cluster the
// search stops after enough feasible nodes are found (500 of 5,000), and
// the next search starts where this one stopped, so every node gets its
// turn.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
	basePercentageOfNodesToScore     = 50
)

func numFeasibleNodesToFind(all int) int {
	if all < minFeasibleNodesToFind {
		return all
	}
	pct := basePercentageOfNodesToScore - all/125
	if pct < minFeasibleNodesPercentageToFind {
		pct = minFeasibleNodesPercentageToFind
	}
	n := all * pct / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// Schedule picks the best node for the pod among nodes, or says why none
// fits (a *FitError, or ErrNoNodes).
func (a *Algorithm) Schedule(pi *PodInfo, nodes []*NodeInfo, now time.Time) (*NodeInfo, error) {
	if len(nodes) == 0 {
		return nil, ErrNoNodes
	}
	want := numFeasibleNodesToFind(len(nodes))
	a.feasible = a.feasible[:0]
	var reasons map[string]int
	start, processed := a.next%len(nodes), 0
	for ; processed < len(nodes) && len(a.feasible) < want; processed++ {
		n := nodes[(start+processed)%len(nodes)]
		if r := runFilters(pi, n, now); r != nil {
			if reasons == nil {
				reasons = map[string]int{}
			}
			for _, reason := range r {
				reasons[reason]++
			}
			continue
		}
		a.feasible = append(a.feasible, n)
	}
	a.next = start + processed
	if len(a.feasible) == 0 {
		return nil, &FitError{NumAllNodes: len(nodes), Reasons: reasons}
	}
	if len(a.feasible) == 1 {
		return a.feasible[0], nil
	}
	return a.pick(pi, a.feasible), nil
}

func runFilters(pi *PodInfo, n *NodeInfo, now time.Time) []string {
	for _, f := range filters {
		if r := f(pi, n, now); r != nil {
			return r
		}
	}
	return nil
}

// pick scores the feasible nodes and returns one of the best, chosen
// uniformly at random among equals.
func (a *Algorithm) pick(pi *PodInfo, nodes []*NodeInfo) *NodeInfo {
	a.total = resize(a.total, len(nodes))
	a.scratch = resize(a.scratch, len(nodes))
	for _, s := range scorers {
		clear(a.scratch)
		s.score(pi, nodes, a.scratch)
		for i, v := range a.scratch {
			a.total[i] += s.weight * v
		}
	}
	best, ties := 0, 1
	for i := 1; i < len(nodes); i++ {
		switch {
		case a.total[i] > a.total[best]:
			best, ties = i, 1
		case a.total[i] == a.total[best]:
			// Reservoir sampling: the k'th tie replaces the choice with
			// probability 1/k.
			ties++
			if a.rng.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return nodes[best]
}

// resize returns s with length n, zeroed.
func resize(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	s = s[:n]
	clear(s)
	return s
}
