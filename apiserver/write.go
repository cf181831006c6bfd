package apiserver

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// writeRequest is what every write (POST, PUT, PATCH) carries besides its
// target: dryRun, fieldValidation, the field manager, and the body.
type writeRequest struct {
	r       *http.Request
	w       http.ResponseWriter
	dryRun  bool
	level   string // fieldValidation
	manager string
	body    []byte
	// mediaType is the body's Content-Type without parameters.
	mediaType string
}

// parseWrite reads a write request's parameters and body.
func parseWrite(w http.ResponseWriter, r *http.Request) (*writeRequest, error) {
	wr := &writeRequest{r: r, w: w, mediaType: mediaType(r.Header.Get("Content-Type"))}
	var err error
	if wr.dryRun, err = parseDryRun(r); err != nil {
		return nil, err
	}
	if wr.level, err = fieldValidation(r); err != nil {
		return nil, err
	}
	apply := types.PatchType(wr.mediaType) == types.ApplyPatchType
	if wr.manager, err = fieldManagerName(r, apply); err != nil {
		return nil, err
	}
	if wr.body, err = readBody(r); err != nil {
		return nil, err
	}
	return wr, nil
}

// decode decodes the body as an object of kind gvk, sending any field
// validation warnings to the client.
func (wr *writeRequest) decode(gvk schema.GroupVersionKind, into runtime.Object) (runtime.Object, error) {
	obj, warnings, err := decodeObject(wr.body, wr.mediaType, gvk, into, wr.level)
	if err != nil {
		return nil, err
	}
	addWarnings(wr.w, warnings)
	return obj, nil
}
