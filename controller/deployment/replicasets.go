package deployment

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// errStale: the informer's view of an object is older than etcd's; the
// sync is retried on a fresher view.
var errStale = fmt.Errorf("object changed since it was read: %w", storage.ErrConflict)

func controllerRef(d *appsv1.Deployment) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "Deployment",
		Name: d.Name, UID: d.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
}

// claimReplicaSets returns the ReplicaSets d controls, once it has adopted
// the orphans its selector matches and released those it controls that its
// selector no longer matches.
func (dc *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	var out []*appsv1.ReplicaSet
	checked := false
	for _, o := range dc.rsInf.List() {
		rs := o.(*appsv1.ReplicaSet)
		if rs.Namespace != d.Namespace {
			continue
		}
		ref := metav1.GetControllerOf(rs)
		matches := sel.Matches(labels.Set(rs.Labels))
		switch {
		case ref != nil && ref.UID != d.UID:
		case ref != nil && matches:
			out = append(out, rs)
		case ref != nil:
			if err := dc.updateRS(ctx, rs, func(rs *appsv1.ReplicaSet) {
				refs := rs.OwnerReferences[:0:0]
				for _, r := range rs.OwnerReferences {
					if r.UID != d.UID {
						refs = append(refs, r)
					}
				}
				rs.OwnerReferences = refs
			}); err != nil {
				return nil, err
			}
		case matches && rs.DeletionTimestamp == nil:
			if !checked {
				cur, err := dc.deps.Get(ctx, d.Namespace, d.Name)
				if storage.IsNotFound(err) || (err == nil && (cur.UID != d.UID || cur.DeletionTimestamp != nil)) {
					return nil, errStale
				}
				if err != nil {
					return nil, err
				}
				checked = true
			}
			next := rs.DeepCopy()
			next.OwnerReferences = append(next.OwnerReferences, controllerRef(d))
			if err := dc.writeRS(ctx, rs, next); err != nil {
				return nil, err
			}
			out = append(out, next)
		}
	}
	return out, nil
}

// updateRS applies change to a copy of rs and writes it over rs.
func (dc *Controller) updateRS(ctx context.Context, rs *appsv1.ReplicaSet, change func(*appsv1.ReplicaSet)) error {
	next := rs.DeepCopy()
	change(next)
	return dc.writeRS(ctx, rs, next)
}

// writeRS writes next over old, the version the decision was made on:
// a ReplicaSet changed meanwhile fails the write (errStale).
func (dc *Controller) writeRS(ctx context.Context, old, next *appsv1.ReplicaSet) error {
	if err := dc.c.Admission.Update(ctx, api.ReplicaSets, next, old); err != nil {
		return fmt.Errorf("replicaset %s/%s: %w", old.Namespace, old.Name, err)
	}
	err := dc.rsets.Update(ctx, old, next, dc.c.Fence...)
	if storage.IsConflict(err) || storage.IsNotFound(err) {
		return errStale
	}
	if err != nil {
		return fmt.Errorf("update replicaset %s/%s: %w", old.Namespace, old.Name, err)
	}
	return nil
}

// Revision returns the revision annotation of obj's metadata (0 if none).
func Revision(m metav1.Object) int64 {
	v, _ := strconv.ParseInt(m.GetAnnotations()[RevisionAnnotation], 10, 64)
	return v
}

// findNewRS returns the ReplicaSet whose template is d's (the oldest, if
// several), and the others.
func findNewRS(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	sorted := append([]*appsv1.ReplicaSet(nil), rss...)
	byCreation(sorted)
	var newRS *appsv1.ReplicaSet
	var old []*appsv1.ReplicaSet
	for _, rs := range sorted {
		if newRS == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		old = append(old, rs)
	}
	return newRS, old
}

// skippedAnnotations are not copied from a Deployment to its ReplicaSets.
var skippedAnnotations = map[string]bool{
	corev1.LastAppliedConfigAnnotation: true, RevisionAnnotation: true, RevisionHistoryAnnotation: true,
	DesiredReplicasAnnotation: true, MaxReplicasAnnotation: true,
	"deprecated.deployment.rollback.to": true,
}

// newReplicaSet returns the ReplicaSet of d's template, named by its hash.
func newReplicaSet(d *appsv1.Deployment, revision int64, size int32) *appsv1.ReplicaSet {
	hash := ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	template := d.Spec.Template.DeepCopy()
	template.Labels = withLabel(template.Labels, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = withLabel(sel.MatchLabels, hash)
	ann := map[string]string{}
	for k, v := range d.Annotations {
		if !skippedAnnotations[k] {
			ann[k] = v
		}
	}
	ann[RevisionAnnotation] = strconv.FormatInt(revision, 10)
	setReplicasAnnotations(ann, d)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace,
			Labels: template.Labels, Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{controllerRef(d)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(size), MinReadySeconds: d.Spec.MinReadySeconds,
			Selector: sel, Template: *template,
		},
	}
}

func withLabel(m map[string]string, hash string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	return out
}

// setReplicasAnnotations records d's size and its size with surge in ann;
// it reports whether anything changed.
func setReplicasAnnotations(ann map[string]string, d *appsv1.Deployment) bool {
	desired := strconv.Itoa(int(replicas(d.Spec.Replicas)))
	maxR := strconv.Itoa(int(replicas(d.Spec.Replicas) + maxSurge(d)))
	changed := ann[DesiredReplicasAnnotation] != desired || ann[MaxReplicasAnnotation] != maxR
	ann[DesiredReplicasAnnotation] = desired
	ann[MaxReplicasAnnotation] = maxR
	return changed
}

// getReplicaSets finds d's new ReplicaSet (creating it when create is
// set), gives it the next revision when it is not already the newest
// (an old template brought back, by `kubectl rollout undo` say), and
// records that revision on d. newRS is nil when it does not exist and
// create is false.
func (dc *Controller) getReplicaSets(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, old := findNewRS(d, rss)
	var maxOld int64
	for _, rs := range old {
		maxOld = max(maxOld, Revision(rs))
	}
	revision := maxOld + 1
	switch {
	case newRS != nil:
		if cur := Revision(newRS); cur < revision || newRS.Spec.MinReadySeconds != d.Spec.MinReadySeconds ||
			newRS.Annotations[DesiredReplicasAnnotation] == "" {
			next := newRS.DeepCopy()
			if next.Annotations == nil {
				next.Annotations = map[string]string{}
			}
			if cur < revision {
				if cur > 0 {
					hist := next.Annotations[RevisionHistoryAnnotation]
					if hist != "" {
						hist += ","
					}
					next.Annotations[RevisionHistoryAnnotation] = hist + strconv.FormatInt(cur, 10)
				}
				next.Annotations[RevisionAnnotation] = strconv.FormatInt(revision, 10)
			} else {
				revision = cur
			}
			if next.Annotations[DesiredReplicasAnnotation] == "" {
				setReplicasAnnotations(next.Annotations, d)
			}
			next.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			if err := dc.writeRS(ctx, newRS, next); err != nil {
				return nil, nil, err
			}
			newRS = next
		} else {
			revision = cur
		}
		if err := dc.setRevision(ctx, d, revision); err != nil {
			return nil, nil, err
		}
		if hasProgressDeadline(d) && condition(d.Status.Conditions, appsv1.DeploymentProgressing) == nil {
			st := d.Status.DeepCopy()
			setCondition(st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewRS,
				fmt.Sprintf("Found new replica set %q", newRS.Name), dc.now()))
			if err := dc.writeStatus(ctx, d, *st); err != nil {
				return nil, nil, err
			}
		}
		return newRS, old, nil
	case !create:
		return nil, old, nil
	}
	size := int32(0)
	if isRolling(d) {
		size = newRSReplicas(d, old, &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0)}})
	}
	rs := newReplicaSet(d, revision, size)
	if err := dc.c.Admission.Create(ctx, api.ReplicaSets, rs); err != nil {
		return nil, nil, fmt.Errorf("new replicaset for deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	err := dc.rsets.Create(ctx, rs, dc.c.Fence...)
	if errors.Is(err, storage.ErrAlreadyExists) {
		existing, gerr := dc.rsets.Get(ctx, rs.Namespace, rs.Name)
		if gerr != nil {
			return nil, nil, gerr
		}
		if ref := metav1.GetControllerOf(existing); ref != nil && ref.UID == d.UID && equalIgnoreHash(&existing.Spec.Template, &d.Spec.Template) {
			return nil, nil, errStale // ours: the informer has not shown it yet
		}
		// A hash collision: count it, so that the next name differs.
		st := d.Status.DeepCopy()
		st.CollisionCount = ptr.To(ptr.Deref(st.CollisionCount, 0) + 1)
		if err := dc.writeStatus(ctx, d, *st); err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("replicaset %s/%s exists with another template: %w", rs.Namespace, rs.Name, storage.ErrAlreadyExists)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("create replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	if size > 0 {
		dc.c.Events.Record(api.Deployments, d, corev1.EventTypeNormal, "ScalingReplicaSet",
			fmt.Sprintf("Scaled up replica set %s from 0 to %d", rs.Name, size))
	}
	if err := dc.setRevision(ctx, d, revision); err != nil {
		return nil, nil, err
	}
	if hasProgressDeadline(d) {
		st := d.Status.DeepCopy()
		setCondition(st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", rs.Name), dc.now()))
		if err := dc.writeStatus(ctx, d, *st); err != nil {
			return nil, nil, err
		}
	}
	return rs, old, nil
}

// setRevision records revision in d's annotation (a write to the main
// resource: the status path keeps metadata as it is).
func (dc *Controller) setRevision(ctx context.Context, d *appsv1.Deployment, revision int64) error {
	v := strconv.FormatInt(revision, 10)
	if d.Annotations[RevisionAnnotation] == v {
		return nil
	}
	out, err := dc.deps.GuaranteedUpdate(ctx, d.Namespace, d.Name, func(cur *appsv1.Deployment) (*appsv1.Deployment, error) {
		if cur.UID != d.UID {
			return nil, errStale
		}
		next := cur.DeepCopy()
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		next.Annotations[RevisionAnnotation] = v
		if err := dc.c.Admission.Update(ctx, api.Deployments, next, cur); err != nil {
			return nil, err
		}
		return next, nil
	}, dc.c.Fence...)
	if err != nil {
		return fmt.Errorf("set revision of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	d.Annotations, d.ResourceVersion = out.Annotations, out.ResourceVersion
	return nil
}

// scaleRS sets rs's size (and d's replica annotations on it), recording an
// event when the size changes. It reports whether anything was written.
func (dc *Controller) scaleRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, size int32) (bool, error) {
	from := replicas(rs.Spec.Replicas)
	next := rs.DeepCopy()
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	annChanged := setReplicasAnnotations(next.Annotations, d)
	if from == size && !annChanged {
		return false, nil
	}
	next.Spec.Replicas = ptr.To(size)
	if err := dc.writeRS(ctx, rs, next); err != nil {
		return false, err
	}
	if from != size {
		verb := "up"
		if size < from {
			verb = "down"
		}
		dc.c.Events.Record(api.Deployments, d, corev1.EventTypeNormal, "ScalingReplicaSet",
			fmt.Sprintf("Scaled %s replica set %s from %d to %d", verb, rs.Name, from, size))
	}
	return true, nil
}

// cleanup deletes the oldest old ReplicaSets beyond revisionHistoryLimit
// that have no pods left.
func (dc *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var live []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil {
			live = append(live, rs)
		}
	}
	extra := len(live) - int(*d.Spec.RevisionHistoryLimit)
	if extra <= 0 {
		return nil
	}
	sort.SliceStable(live, func(i, j int) bool {
		ri, rj := Revision(live[i]), Revision(live[j])
		if ri != rj {
			return ri < rj
		}
		return live[i].CreationTimestamp.Before(&live[j].CreationTimestamp)
	})
	for _, rs := range live {
		if extra == 0 {
			break
		}
		if specReplicas(rs) != 0 || rs.Status.Replicas != 0 || rs.Status.ObservedGeneration < rs.Generation {
			continue
		}
		if err := dc.deleteRS(ctx, rs); err != nil {
			return err
		}
		extra--
	}
	return nil
}

// deleteRS deletes rs as a DELETE through the apiserver would: at once,
// or, when finalizers hold it, by marking it deleted for their owners to
// finish. A ReplicaSet changed or gone meanwhile is left alone.
func (dc *Controller) deleteRS(ctx context.Context, rs *appsv1.ReplicaSet) error {
	err := dc.c.Admission.Delete(ctx, api.ReplicaSets, rs.Namespace, rs.Name, rs)
	switch {
	case err != nil:
	case len(rs.Finalizers) == 0:
		uid, rv := rs.UID, rs.ResourceVersion
		_, err = dc.rsets.Delete(ctx, rs.Namespace, rs.Name, &storage.Preconditions{UID: &uid, ResourceVersion: &rv}, dc.c.Fence...)
	default:
		next := rs.DeepCopy()
		now := metav1.NewTime(dc.now())
		next.DeletionTimestamp, next.DeletionGracePeriodSeconds = &now, ptr.To[int64](0)
		err = dc.rsets.Update(ctx, rs, next, dc.c.Fence...)
	}
	if err != nil && !storage.IsNotFound(err) && !storage.IsConflict(err) {
		return fmt.Errorf("delete old replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return nil
}
