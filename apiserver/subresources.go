package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/api/validation"
)

// serveBinding serves POST pods/NAME/binding: the pod is assigned to the
// binding's node, once.
func (s *Server) serveBinding(w http.ResponseWriter, r *http.Request, info requestInfo) error {
	if info.Verb != "create" {
		return methodNotAllowed()
	}
	wr, err := parseWrite(w, r)
	if err != nil {
		return err
	}
	gvk := corev1.SchemeGroupVersion.WithKind("Binding")
	obj, err := wr.decode(gvk, &corev1.Binding{})
	if err != nil {
		return err
	}
	b := obj.(*corev1.Binding)
	if b.Name == "" {
		b.Name = info.Name
	}
	if _, err := checkNamespaceAndName(b, api.Pods, info, true); err != nil {
		return err
	}
	if errs := validation.ValidatePodBinding(b); len(errs) > 0 {
		return apierrors.NewInvalid(gvk.GroupKind(), b.Name, errs)
	}
	if err := s.admission.Admit(r.Context(), admission.Binding(b, info.Namespace)); err != nil {
		return err
	}
	_, err = s.store.GuaranteedUpdate(r.Context(), api.Pods.Storage, info.Namespace, info.Name, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(api.Pods.GroupResource(), pod.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(api.Pods.GroupResource(), pod.Name, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(api.Pods.GroupResource(), pod.Name, fmt.Errorf("the UID in the binding (%s) does not match the pod's (%s)", b.UID, pod.UID))
		}
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		api.BindPod(pod, b.Target.Name, metav1.Now())
		return pod, nil
	}, nil)
	if err != nil {
		return storageError(err, api.Pods, info.Name)
	}
	writeObject(w, r, http.StatusCreated, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess, Code: http.StatusCreated,
	})
	return nil
}

// serveScale serves the scale subresource: GET, PUT and PATCH of an
// autoscaling/v1 Scale backed by the object's replicas.
func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	ctx := r.Context()
	switch info.Verb {
	case "get":
		obj, err := s.store.Get(ctx, res.Storage, info.Namespace, info.Name)
		if err != nil {
			return storageError(err, res, info.Name)
		}
		writeObject(w, r, http.StatusOK, toScale(res, obj))
		return nil
	case "update", "patch":
	default:
		return methodNotAllowed()
	}
	wr, err := parseWrite(w, r)
	if err != nil {
		return err
	}
	scaleGVK := autoscalingv1.SchemeGroupVersion.WithKind("Scale")
	// next turns the current object's scale into the one the client asks for.
	var next func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error)
	if info.Verb == "update" {
		obj, err := wr.decode(scaleGVK, &autoscalingv1.Scale{})
		if err != nil {
			return err
		}
		body := obj.(*autoscalingv1.Scale)
		if _, err := checkNamespaceAndName(body, res, info, true); err != nil {
			return err
		}
		next = func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error) { return body.DeepCopy(), nil }
	} else {
		apply, err := patcher(types.PatchType(wr.mediaType), wr.body, res)
		if err != nil {
			return err
		}
		next = func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
			curJSON, _ := json.Marshal(cur)
			patched, err := apply(curJSON)
			if err != nil {
				return nil, err
			}
			obj, _, err := decodeObject(patched, "", scaleGVK, &autoscalingv1.Scale{}, wr.level)
			if err != nil {
				return nil, err
			}
			return obj.(*autoscalingv1.Scale), nil
		}
	}
	mutate := func(cur runtime.Object) (runtime.Object, error) {
		scale, err := next(toScale(res, cur))
		if err != nil {
			return nil, err
		}
		if errs := validation.ValidateScale(scale); len(errs) > 0 {
			return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), info.Name, errs)
		}
		obj := cur.DeepCopyObject()
		m, _ := meta.Accessor(obj)
		m.SetResourceVersion(scale.ResourceVersion)
		res.Scale.SetReplicas(obj, scale.Spec.Replicas)
		return obj, nil
	}
	out, _, err := s.updateObject(ctx, res, updateRequest{info: info, mutate: mutate, dryRun: wr.dryRun, manager: wr.manager})
	if err != nil {
		return err
	}
	writeObject(w, r, http.StatusOK, toScale(res, out))
	return nil
}

// toScale is the Scale view of a scalable object.
func toScale(res *api.Resource, obj runtime.Object) *autoscalingv1.Scale {
	m, _ := meta.Accessor(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: autoscalingv1.SchemeGroupVersion.String()},
		ObjectMeta: metav1.ObjectMeta{
			Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: res.Scale.SpecReplicas(obj)},
		Status: autoscalingv1.ScaleStatus{Replicas: res.Scale.StatusReplicas(obj), Selector: res.Scale.Selector(obj)},
	}
}
