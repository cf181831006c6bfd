package deployment

import (
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// resolveFenceposts returns maxSurge (a percentage rounded up) and
// maxUnavailable (rounded down) of a rolling update to replicas; both zero
// would never progress, so maxUnavailable becomes 1, as Kubernetes.
func resolveFenceposts(surge, unavailable *intstr.IntOrString, replicas int32) (int32, int32) {
	s := scaled(surge, replicas, true)
	u := scaled(unavailable, replicas, false)
	if s == 0 && u == 0 {
		u = 1
	}
	return s, u
}

func scaled(v *intstr.IntOrString, total int32, roundUp bool) int32 {
	if v == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, int(total), roundUp)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}

// maxSurge and maxUnavailable of d (0 for Recreate; maxUnavailable never
// more than the replicas).
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRolling(d) {
		return 0
	}
	s, _ := resolveFenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, replicas(d.Spec.Replicas))
	return s
}

func maxUnavailable(d *appsv1.Deployment) int32 {
	n := replicas(d.Spec.Replicas)
	if !isRolling(d) || n == 0 {
		return 0
	}
	_, u := resolveFenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, n)
	return min(u, n)
}

func isRolling(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType && d.Spec.Strategy.RollingUpdate != nil
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// podCount is how many pods rs may have now: its spec, or more while the
// ReplicaSet controller has not yet brought its pods down to it. Counting
// the larger keeps a rollout within maxSurge while old pods are deleted.
func podCount(rs *appsv1.ReplicaSet) int32 {
	return max(replicas(rs.Spec.Replicas), rs.Status.Replicas)
}

// availableCount is how many of rs's pods can be counted on as available:
// its status says so, but never more than its spec, which its controller
// is bringing it down to.
func availableCount(rs *appsv1.ReplicaSet) int32 {
	return min(replicas(rs.Spec.Replicas), rs.Status.AvailableReplicas)
}

func sum(rss []*appsv1.ReplicaSet, f func(*appsv1.ReplicaSet) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(rs)
		}
	}
	return n
}

func specReplicas(rs *appsv1.ReplicaSet) int32 { return replicas(rs.Spec.Replicas) }

// newRSReplicas is the size the new ReplicaSet may grow to now.
func newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := replicas(d.Spec.Replicas)
	if !isRolling(d) {
		return want
	}
	cur := specReplicas(newRS)
	total := sum(all, podCount)
	maxTotal := want + maxSurge(d)
	if total >= maxTotal {
		return cur
	}
	return cur + max(0, min(maxTotal-total, want-cur))
}

// byCreation orders ReplicaSets oldest first (by name on ties).
func byCreation(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool { return olderThan(rss[i], rss[j]) })
}

// olderThan: a was created before b (or at the same time, with a smaller
// name).
func olderThan(a, b *appsv1.ReplicaSet) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// oldScaleDowns decides how far the old ReplicaSets of a rolling update
// shrink now, as Kubernetes' reconcileOldReplicaSets: first unhealthy
// pods (never needed for availability), then available ones down to
// replicas - maxUnavailable. It returns the new sizes of the ReplicaSets
// that change, by name.
func oldScaleDowns(d *appsv1.Deployment, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) map[string]int32 {
	out := map[string]int32{}
	if sum(old, specReplicas) == 0 {
		return out
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	minAvailable := replicas(d.Spec.Replicas) - maxUnavailable(d)
	var newUnavailable int32
	if newRS != nil {
		newUnavailable = specReplicas(newRS) - availableCount(newRS)
	}
	maxScaledDown := sum(all, specReplicas) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return out
	}
	sorted := append([]*appsv1.ReplicaSet(nil), old...)
	byCreation(sorted)
	size := map[string]int32{}
	for _, rs := range sorted {
		size[rs.Name] = specReplicas(rs)
	}
	// Unhealthy replicas first.
	var cleaned int32
	for _, rs := range sorted {
		if cleaned >= maxScaledDown {
			break
		}
		unhealthy := size[rs.Name] - availableCount(rs)
		if size[rs.Name] == 0 || unhealthy <= 0 {
			continue
		}
		n := min(maxScaledDown-cleaned, unhealthy)
		size[rs.Name] -= n
		cleaned += n
	}
	// Then available ones, keeping minAvailable.
	var available int32
	for _, rs := range all {
		if rs == nil {
			continue
		}
		a := availableCount(rs)
		if s, ok := size[rs.Name]; ok && rs != newRS {
			a = min(a, s)
		}
		available += a
	}
	if available > minAvailable {
		total := available - minAvailable
		var done int32
		for _, rs := range sorted {
			if done >= total {
				break
			}
			if size[rs.Name] == 0 {
				continue
			}
			n := min(size[rs.Name], total-done)
			size[rs.Name] -= n
			done += n
		}
	}
	for _, rs := range sorted {
		if size[rs.Name] != specReplicas(rs) {
			out[rs.Name] = size[rs.Name]
		}
	}
	return out
}
