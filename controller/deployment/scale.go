package deployment

import (
	"context"
	"math"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
)

// A scaling event is a change of a Deployment's size that its ReplicaSets
// have not seen yet: each ReplicaSet the controller sizes records the
// Deployment's size (DesiredReplicasAnnotation) and its size with surge
// (MaxReplicasAnnotation) at that moment. The second is what proportional
// scaling divides by: a ReplicaSet holding 8 of a Deployment's 13 allowed
// replicas keeps that share, 8/13, of the 33 allowed once it is scaled to
// 30. Because every ReplicaSet carries its own record, a scaling decision
// cut short by a failed write is completed correctly by the next sync:
// ReplicaSets already resized record the new size, and get no more.

// annotatedReplicas returns the replica count recorded in rs's annotation
// key, and whether there is one that parses.
func annotatedReplicas(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// isScalingEvent: d's size changed since its active ReplicaSets were last
// sized.
func (dc *Controller) isScalingEvent(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) bool {
	want := replicas(d.Spec.Replicas)
	for _, rs := range rss {
		if specReplicas(rs) == 0 {
			continue
		}
		if desired, ok := annotatedReplicas(rs, DesiredReplicasAnnotation); ok && desired != want {
			return true
		}
	}
	return false
}

// syncScale resizes d's ReplicaSets to its size without rolling out (a
// paused Deployment, or a scaling event), then updates its status.
func (dc *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := dc.getReplicaSets(ctx, d, rss, false)
	if err != nil {
		return err
	}
	// Each write records d's size on the ReplicaSet; one that fails
	// (errStale) ends the sync, and the next decides again from what
	// was written.
	for _, r := range scaleDecision(d, newRS, old) {
		if _, err := dc.scaleRS(ctx, d, r.rs, r.size); err != nil {
			return err
		}
	}
	if d.Spec.Paused {
		if err := dc.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return dc.syncStatus(ctx, d, newRS, old, false)
}

// resize is a ReplicaSet and the size a scaling decision gives it.
type resize struct {
	rs   *appsv1.ReplicaSet
	size int32
}

// scaleDecision decides the sizes of d's ReplicaSets after a change of
// d's size, as Kubernetes' deployment controller does, in the order they
// are to be written:
//
//   - with at most one active ReplicaSet (one with replicas), that one, or
//     else the new one, or else the newest old one, takes d's size;
//   - with the new ReplicaSet saturated (it has d's size, recorded and
//     available), the active old ones go to zero;
//   - a rolling update with several active ReplicaSets is scaled
//     proportionally (proportionalSizes);
//   - a Recreate Deployment caught with several active ReplicaSets (its
//     strategy changed mid-rollout) grows its newest or shrinks its oldest
//     first. Kubernetes leaves these as they are, and with them the size
//     they recorded, so that each sync sees a scaling event again; here
//     the new size is recorded and the Recreate rollout goes on.
func scaleDecision(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) []resize {
	want := replicas(d.Spec.Replicas)
	var active []*appsv1.ReplicaSet
	for _, rs := range append(append([]*appsv1.ReplicaSet(nil), old...), newRS) {
		if rs != nil && specReplicas(rs) > 0 {
			active = append(active, rs)
		}
	}
	switch {
	case len(active) == 1:
		return []resize{{active[0], want}}
	case len(active) == 0 && newRS != nil:
		return []resize{{newRS, want}}
	case len(active) == 0 && len(old) > 0:
		newest := append([]*appsv1.ReplicaSet(nil), old...)
		byCreation(newest)
		return []resize{{newest[len(newest)-1], want}}
	case len(active) == 0:
		return nil
	}
	if saturated(d, newRS) {
		var out []resize
		for _, rs := range old {
			if specReplicas(rs) > 0 {
				out = append(out, resize{rs, 0})
			}
		}
		return out
	}
	if isRolling(d) {
		return proportionalSizes(d, active)
	}
	byCreation(active)
	delta := want - sum(active, specReplicas)
	out := make([]resize, len(active))
	for i, rs := range active {
		out[i] = resize{rs, specReplicas(rs)}
	}
	if delta > 0 {
		out[len(out)-1].size += delta
	}
	for i := 0; delta < 0 && i < len(out); i++ {
		n := min(out[i].size, -delta)
		out[i].size -= n
		delta += n
	}
	return out
}

// saturated: rs is d's new ReplicaSet at d's size, recorded and available.
func saturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	want := replicas(d.Spec.Replicas)
	desired, ok := annotatedReplicas(rs, DesiredReplicasAnnotation)
	return ok && desired == want && specReplicas(rs) == want && rs.Status.AvailableReplicas == want
}

// proportionalSizes spreads the change of a rolling Deployment's allowed
// size (replicas + maxSurge, or 0 when scaled to 0) over its active
// ReplicaSets in proportion to their sizes: each gets its size times the
// new allowed size over the allowed size it last recorded, rounded to the
// nearest, never beyond what is left of the change. They are taken
// largest first; among equal sizes the newest first when growing and the
// oldest first when shrinking. What rounding leaves over goes to the
// first, the largest (never below zero).
func proportionalSizes(d *appsv1.Deployment, active []*appsv1.ReplicaSet) []resize {
	want := replicas(d.Spec.Replicas)
	allowed := int32(0)
	if want > 0 {
		allowed = want + maxSurge(d)
	}
	toAdd := allowed - sum(active, specReplicas)
	sorted := append([]*appsv1.ReplicaSet(nil), active...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if specReplicas(a) != specReplicas(b) {
			return specReplicas(a) > specReplicas(b)
		}
		if toAdd > 0 {
			return olderThan(b, a)
		}
		return olderThan(a, b)
	})
	out := make([]resize, len(sorted))
	var added int32
	for i, rs := range sorted {
		n := proportion(d, rs, allowed, toAdd, added)
		out[i] = resize{rs, specReplicas(rs) + n}
		added += n
	}
	if toAdd != 0 && len(out) > 0 {
		out[0].size = max(0, out[0].size+toAdd-added)
	}
	return out
}

// proportion is rs's share of toAdd (added of it already given out): its
// size scaled from the allowed size it recorded to allowed, less its size,
// and never more of the change than is left.
func proportion(d *appsv1.Deployment, rs *appsv1.ReplicaSet, allowed, toAdd, added int32) int32 {
	size := specReplicas(rs)
	if size == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	left := toAdd - added
	var share int32
	if allowed == 0 {
		share = -size
	} else {
		before, ok := annotatedReplicas(rs, MaxReplicasAnnotation)
		if !ok || before <= 0 {
			// Not recorded (scaled by hand, say): the Deployment's
			// current pod count is the best guess; the bounds below
			// keep the total right whatever the guess.
			before = d.Status.Replicas
		}
		if before <= 0 {
			return 0 // the leftover goes to the largest
		}
		share = int32(math.Round(float64(size)*float64(allowed)/float64(before))) - size
	}
	if toAdd > 0 {
		return min(share, left)
	}
	return max(share, left)
}
