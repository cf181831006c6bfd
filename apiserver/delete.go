package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// delete serves DELETE of one object.
func (s *Server) delete(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	opts, err := parseDeleteOptions(r)
	if err != nil {
		return err
	}
	if res == api.Namespaces {
		// Creates in it look it up in etcd for a while: the watch cache
		// may not have seen it turn Terminating yet.
		s.deletedNamespaces.add(info.Name)
	}
	out, removed, err := s.deleteObject(r.Context(), res, info.Namespace, info.Name, opts)
	if err != nil {
		return err
	}
	out.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	switch {
	case removed && res != api.Pods && res != api.Namespaces:
		m, _ := meta.Accessor(out)
		writeObject(w, r, http.StatusOK, successStatus(res, info.Name, string(m.GetUID())))
	case !removed && opts.PropagationPolicy != nil && *opts.PropagationPolicy != metav1.DeletePropagationOrphan:
		writeObject(w, r, http.StatusAccepted, out)
	default:
		writeObject(w, r, http.StatusOK, out)
	}
	return nil
}

// parseDeleteOptions reads DeleteOptions from the query and, when present,
// the body (which wins).
func parseDeleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid gracePeriodSeconds %q", v))
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := isTrue(v)
		opts.OrphanDependents = &b
	}
	opts.DryRun = q["dryRun"]
	if r.Body != nil {
		data, err := readBody(r)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(data)) > 0 {
			obj, _, err := decodeObject(data, mediaType(r.Header.Get("Content-Type")), deleteOptionsKind(data), &metav1.DeleteOptions{}, fieldValidationIgnore)
			if err != nil {
				return nil, err
			}
			opts = obj.(*metav1.DeleteOptions)
		}
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun value %q: only %q is supported", v, metav1.DryRunAll))
		}
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy: Unsupported value: %q: supported values: \"Foreground\", \"Background\", \"Orphan\"", *opts.PropagationPolicy))
		}
		if opts.OrphanDependents != nil {
			return nil, apierrors.NewBadRequest("orphanDependents and propagationPolicy cannot be both set")
		}
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		// As Kubernetes: a negative grace period means "as soon as possible".
		one := int64(1)
		opts.GracePeriodSeconds = &one
	}
	return opts, nil
}

// deleteObject deletes the named object as Kubernetes does: at once when
// nothing holds it, or by marking it (deletionTimestamp) when a grace period
// (a pod on a node) or finalizers (including those the propagation policy
// asks for) must run first. It returns the object's last state and whether
// it is gone.
func (s *Server) deleteObject(ctx context.Context, res *api.Resource, namespace, name string, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	pre := &storage.Preconditions{}
	if opts.Preconditions != nil {
		pre.UID, pre.ResourceVersion = opts.Preconditions.UID, opts.Preconditions.ResourceVersion
	}
	dryRun := len(opts.DryRun) > 0
	for {
		cur, err := s.store.Get(ctx, res.Storage, namespace, name)
		if err != nil {
			return nil, false, storageError(err, res, name)
		}
		if err := pre.Check(res.Storage.Key(namespace, name), cur); err != nil {
			return nil, false, storageError(err, res, name)
		}
		if err := s.admission.Delete(ctx, res, namespace, name, cur); err != nil {
			return nil, false, err
		}
		m, _ := meta.Accessor(cur)
		uid, rv := m.GetUID(), m.GetResourceVersion()
		next := cur.DeepCopyObject()
		grace, marked := markForDeletion(res, next, opts)
		if !marked {
			if dryRun {
				return cur, true, nil
			}
			deleted, err := s.store.Delete(ctx, res.Storage, namespace, name, &storage.Preconditions{UID: &uid, ResourceVersion: &rv})
			if storage.IsConflict(err) {
				continue // changed under us: decide again
			}
			if err != nil {
				return nil, false, storageError(err, res, name)
			}
			s.events.objectDeleted(res, deleted, true)
			return deleted, true, nil
		}
		if dryRun {
			return next, false, nil
		}
		err = s.store.Update(ctx, res.Storage, cur, next)
		if storage.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, false, storageError(err, res, name)
		}
		if grace == 0 {
			// Already marked, and the marking left nothing to wait for.
			if err := s.finishDeletion(ctx, res, next); err != nil {
				return nil, false, err
			}
		}
		s.events.objectDeleted(res, next, false)
		return next, false, nil
	}
}

// markForDeletion decides how obj is deleted. It returns false when obj can
// be removed at once; otherwise it marks obj (deletionTimestamp, grace
// period, finalizers the propagation policy adds, a terminating namespace's
// phase) and returns the grace period.
func markForDeletion(res *api.Resource, obj runtime.Object, opts *metav1.DeleteOptions) (int64, bool) {
	m, _ := meta.Accessor(obj)
	finalizers := m.GetFinalizers()
	orphan := (opts.OrphanDependents != nil && *opts.OrphanDependents) ||
		(opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationOrphan)
	foreground := opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationForeground
	switch {
	case orphan && !contains(finalizers, metav1.FinalizerOrphanDependents):
		finalizers = append(finalizers, metav1.FinalizerOrphanDependents)
	case foreground && !contains(finalizers, metav1.FinalizerDeleteDependents):
		finalizers = append(finalizers, metav1.FinalizerDeleteDependents)
	}
	grace := gracePeriod(res, obj, opts)
	pending := len(finalizers) > 0
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		pending = true
		ns.Status.Phase = corev1.NamespaceTerminating
	}
	if !pending && grace == 0 {
		return 0, false
	}
	m.SetFinalizers(finalizers)
	now := time.Now()
	deadline := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
	if old := m.GetDeletionTimestamp(); old == nil || deadline.Before(old) {
		m.SetDeletionTimestamp(&deadline)
	}
	if old := m.GetDeletionGracePeriodSeconds(); old == nil || grace < *old {
		m.SetDeletionGracePeriodSeconds(&grace)
	}
	return *m.GetDeletionGracePeriodSeconds(), true
}

// gracePeriod is how long a deleted object has to shut down: for a pod on a
// node, the requested period or its terminationGracePeriodSeconds (30 by
// default); for everything else none.
func gracePeriod(res *api.Resource, obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return 0
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0 // nothing runs it: remove at once
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	if grace < 0 {
		grace = 1 // a negative period stored before pods had it corrected
	}
	if cur := pod.DeletionGracePeriodSeconds; cur != nil && *cur < grace {
		grace = *cur // a deletion can be hurried, never slowed
	}
	return grace
}

// deleteCollection serves DELETE of a collection: each selected object is
// deleted as by a DELETE of it.
func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	if res == api.Namespaces {
		return methodNotAllowed()
	}
	opts, err := parseDeleteOptions(r)
	if err != nil {
		return err
	}
	p, err := parseListParams(r, res, info)
	if err != nil {
		return err
	}
	p.limit, p.continueToken = 0, ""
	page, err := s.caches[res].List(r.Context(), listOptionsFor(info, p))
	if err != nil {
		return storageError(err, res, "")
	}
	list := res.NewList()
	var items []runtime.Object
	for _, e := range page.Entries {
		em, _ := meta.Accessor(e.Object)
		out, _, err := s.deleteObject(r.Context(), res, em.GetNamespace(), em.GetName(), opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		items = append(items, out)
	}
	if err := meta.SetList(list, items); err != nil {
		return apierrors.NewInternalError(err)
	}
	list.GetObjectKind().SetGroupVersionKind(res.GroupVersion.WithKind(res.ListKind))
	writeObject(w, r, http.StatusOK, list)
	return nil
}

// deleteOptionsKind is the kind a DeleteOptions body is decoded as: clients
// send it as v1 or as meta.k8s.io/v1.
func deleteOptionsKind(data []byte) schema.GroupVersionKind {
	var tm metav1.TypeMeta
	if bytes.HasPrefix(data, []byte("k8s\x00")) {
		var unk runtime.Unknown
		protoCodec.Decode(data, nil, &unk)
		tm = metav1.TypeMeta{APIVersion: unk.APIVersion, Kind: unk.Kind}
	} else {
		json.Unmarshal(data, &tm)
	}
	if tm.APIVersion == metav1.SchemeGroupVersion.String() {
		return metav1.SchemeGroupVersion.WithKind("DeleteOptions")
	}
	// client-go's typed clients send it in the resource's own group
	// version ("apps/v1"), as Kubernetes registers it in every one.
	if gv, err := schema.ParseGroupVersion(tm.APIVersion); err == nil && tm.APIVersion != "" && api.Scheme.Recognizes(gv.WithKind("DeleteOptions")) {
		return gv.WithKind("DeleteOptions")
	}
	return schema.GroupVersionKind{Version: "v1", Kind: "DeleteOptions"}
}
