package apiserver

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"

	"github.com/shepherd-lab/shepherd/api"
)

// fieldManagers keep metadata.managedFields of one resource: who set which
// field, on the resource and on its status. They also merge server-side
// apply requests and report their conflicts.
type fieldManagers struct {
	main, status *managedfields.FieldManager
}

// resourceDefaulter lets the field manager default objects it builds.
type resourceDefaulter struct{ res *api.Resource }

func (d resourceDefaulter) Default(obj runtime.Object) { d.res.Default(obj) }

func newFieldManagers(res *api.Resource, tc managedfields.TypeConverter) (*fieldManagers, error) {
	gvk := res.GroupVersionKind()
	apiVersion := fieldpath.APIVersion(res.GroupVersion.String())
	// Fields a write may not set are not owned by the writer: status on the
	// main resource, spec (and the metadata users own, unless the resource's
	// status writes it) on the status subresource.
	mainReset := map[fieldpath.APIVersion]fieldpath.Filter{}
	statusReset := map[fieldpath.APIVersion]fieldpath.Filter{}
	if res.HasStatus {
		mainReset[apiVersion] = fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status")))
		notStatus := fieldpath.NewSet(fieldpath.MakePathOrDie("spec"))
		if !res.StatusWritesMetadata {
			notStatus.Insert(fieldpath.MakePathOrDie("metadata", "labels"))
			notStatus.Insert(fieldpath.MakePathOrDie("metadata", "annotations"))
			notStatus.Insert(fieldpath.MakePathOrDie("metadata", "finalizers"))
			notStatus.Insert(fieldpath.MakePathOrDie("metadata", "ownerReferences"))
		}
		statusReset[apiVersion] = fieldpath.NewExcludeSetFilter(notStatus)
	}
	conv := runtime.UnsafeObjectConvertor(api.Scheme)
	def := resourceDefaulter{res}
	main, err := managedfields.NewDefaultFieldManager(tc, conv, def, api.Scheme, gvk, res.GroupVersion, "", mainReset)
	if err != nil {
		return nil, fmt.Errorf("field manager of %s: %w", res.GroupResource(), err)
	}
	fm := &fieldManagers{main: main}
	if res.HasStatus {
		if fm.status, err = managedfields.NewDefaultFieldManager(tc, conv, def, api.Scheme, gvk, res.GroupVersion, "status", statusReset); err != nil {
			return nil, fmt.Errorf("status field manager of %s: %w", res.GroupResource(), err)
		}
	}
	return fm, nil
}

// newTypeConverter is the schema of every built-in type for server-side
// apply, as client-go ships it.
func newTypeConverter() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(api.Scheme)
}

func (f *fieldManagers) of(status bool) *managedfields.FieldManager {
	if status {
		return f.status
	}
	return f.main
}

// maxFieldManagerLength is Kubernetes' limit on a manager's name.
const maxFieldManagerLength = 128

// fieldManagerName is the manager a write is attributed to: the
// fieldManager parameter, else the client's user agent up to its first
// slash (kubectl, kube-controller-manager ...), as kube-apiserver does.
// Server-side apply must name its manager.
func fieldManagerName(r *http.Request, apply bool) (string, error) {
	name := r.URL.Query().Get("fieldManager")
	if name == "" {
		if apply {
			return "", apierrors.NewBadRequest("PATCH with the apply content type must specify a fieldManager")
		}
		name, _, _ = strings.Cut(r.UserAgent(), "/")
		if len(name) > maxFieldManagerLength {
			name = name[:maxFieldManagerLength]
		}
		if name == "" {
			name = "unknown"
		}
		return name, nil
	}
	if len(name) > maxFieldManagerLength {
		return "", apierrors.NewBadRequest(fmt.Sprintf("fieldManager: Too long: may not be longer than %d", maxFieldManagerLength))
	}
	for _, c := range name {
		if !unicode.IsPrint(c) {
			return "", apierrors.NewBadRequest("fieldManager: Invalid value: must consist of printable characters")
		}
	}
	return name, nil
}

// applyPatch decodes a server-side apply body (YAML or JSON) into the
// partial object it declares, checking it names this resource and object.
// Fields the type does not have are refused (as under Strict validation):
// an apply may not claim what the schema cannot hold.
func applyPatch(data []byte, res *api.Resource, info requestInfo) (*unstructured.Unstructured, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid apply patch: %v", err))
	}
	gvk := u.GroupVersionKind()
	if gvk != res.GroupVersionKind() {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the apply patch is a %s, this endpoint serves %s", gvk, res.GroupVersionKind()))
	}
	if u.GetName() != info.Name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", u.GetName(), info.Name))
	}
	if ns := u.GetNamespace(); res.Namespaced && ns != "" && ns != info.Namespace {
		return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if u.GetManagedFields() != nil {
		return nil, apierrors.NewBadRequest("metadata.managedFields must be nil in an apply patch")
	}
	// Strictly decoding the same JSON names any unknown or duplicate field.
	if _, _, err := decodeObject(j, "", res.GroupVersionKind(), res.New(), fieldValidationStrict); err != nil {
		return nil, err
	}
	return u, nil
}
