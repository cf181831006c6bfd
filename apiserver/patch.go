package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/shepherd-lab/shepherd/api"
)

// patch serves PATCH of an object or its status with a JSON patch, a JSON
// merge patch, a strategic merge patch or a server-side apply. The patch is
// applied to the current state inside the compare-and-swap loop, so
// concurrent patches all land.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo, p part) error {
	wr, err := parseWrite(w, r)
	if err != nil {
		return err
	}
	pt := types.PatchType(wr.mediaType)
	u := updateRequest{info: info, part: p, dryRun: wr.dryRun, manager: wr.manager}
	var warnings []string
	if pt == types.ApplyPatchType || pt == types.ApplyCBORPatchType {
		applied, err := applyPatch(wr.body, res, info)
		if err != nil {
			return err
		}
		force := isTrue(r.URL.Query().Get("force"))
		fm := s.fields[res].of(p == statusPart)
		u.applied, u.createMissing = true, p == objectPart
		u.mutate = func(cur runtime.Object) (runtime.Object, error) {
			if m, err := meta.Accessor(cur); err == nil && m.GetNamespace() == "" && res.Namespaced {
				m.SetNamespace(info.Namespace) // an object being created by this apply
			}
			return fm.Apply(cur, applied.DeepCopy(), wr.manager, force)
		}
	} else {
		apply, err := patcher(pt, wr.body, res)
		if err != nil {
			return err
		}
		u.mutate = func(cur runtime.Object) (runtime.Object, error) {
			cur.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
			curJSON, err := json.Marshal(cur)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			patched, err := apply(curJSON)
			if err != nil {
				return nil, err
			}
			next, warns, err := decodeObject(patched, "", res.GroupVersionKind(), res.New(), wr.level)
			if err != nil {
				return nil, err
			}
			warnings = warns
			return next, nil
		}
	}
	out, created, err := s.updateObject(r.Context(), res, u)
	if err != nil {
		return err
	}
	addWarnings(w, warnings)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeObject(w, r, code, out)
	return nil
}

// maxJSONPatchOperations bounds the operations of one JSON patch, as
// kube-apiserver does: each is applied to the whole object in turn.
const maxJSONPatchOperations = 10000

// patcher checks a patch document and returns the function that applies it
// to an object's JSON.
func patcher(pt types.PatchType, patch []byte, res *api.Resource) (func([]byte) ([]byte, error), error) {
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid JSON patch: %v", err))
		}
		if len(p) > maxJSONPatchOperations {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
				"The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(p)))
		}
		return func(cur []byte) ([]byte, error) {
			out, err := p.Apply(cur)
			if err != nil {
				return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
					Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
					Message: fmt.Sprintf("the JSON patch does not apply: %v", err),
				}}
			}
			return out, nil
		}, nil
	case types.MergePatchType:
		if !json.Valid(patch) {
			return nil, apierrors.NewBadRequest("invalid JSON merge patch: the body is not JSON")
		}
		return func(cur []byte) ([]byte, error) {
			out, err := jsonpatch.MergePatch(cur, patch)
			if err != nil {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("applying merge patch: %v", err))
			}
			return out, nil
		}, nil
	case types.StrategicMergePatchType:
		var m map[string]any
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid strategic merge patch: %v", err))
		}
		schema := res.New()
		return func(cur []byte) ([]byte, error) {
			out, err := strategicpatch.StrategicMergePatch(cur, patch, schema)
			if err != nil {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("applying strategic merge patch: %v", err))
			}
			return out, nil
		}, nil
	}
	return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", res.GroupResource(), "",
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s, %s",
			types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyPatchType), 0, false)
}
