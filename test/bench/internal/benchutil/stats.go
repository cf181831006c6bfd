package benchutil

import (
	"math"
	"sort"
	"time"
)

// Latencies are durations of like operations, to take quantiles of.
type Latencies []time.Duration

// Quantile returns the q-quantile by the nearest-rank method; 0 when empty.
// Quantile(1) is the maximum. It sorts a copy: l keeps its order.
func (l Latencies) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append(Latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(q * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// Mean returns the arithmetic mean; 0 when empty.
func (l Latencies) Mean() time.Duration {
	if len(l) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	return sum / time.Duration(len(l))
}

// PassMiss is how a report marks a figure against its target: "PASS" when
// ok, else "MISS".
func PassMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
