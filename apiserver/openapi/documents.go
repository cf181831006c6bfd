package openapi

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/applyconfigurations"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"

	"github.com/shepherd-lab/shepherd/api"
)

// Documents are the OpenAPI documents of the served API.
type Documents struct {
	// V3 maps a group version's path ("api/v1", "apis/apps/v1") to its
	// OpenAPI 3.0 document.
	V3 map[string][]byte
	// V3Hash maps the same paths to a hash of the document, which the index
	// puts in each document's URL so clients can cache them.
	V3Hash map[string]string
	// V3Index is the /openapi/v3 discovery document.
	V3Index []byte
	// V2 is the Swagger 2.0 document of the whole API.
	V2 []byte
}

const patchDef = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"

// patchTypes are the media types a PATCH body may have.
var patchTypes = []string{
	"application/apply-patch+yaml", "application/json-patch+json",
	"application/merge-patch+json", "application/strategic-merge-patch+json",
}

// Build generates every document for the resources, reporting Kubernetes
// version kubeVersion (e.g. "v1.32.0") in their info.
func Build(resources []*api.Resource, kubeVersion string) (*Documents, error) {
	smd, err := smdSchema()
	if err != nil {
		return nil, err
	}
	docs := &Documents{V3: map[string][]byte{}, V3Hash: map[string]string{}}
	index := map[string]any{}
	for _, gv := range api.GroupVersions() {
		var served []*api.Resource
		for _, r := range resources {
			if r.GroupVersion == gv {
				served = append(served, r)
			}
		}
		doc, err := buildV3(served, kubeVersion, smd)
		if err != nil {
			return nil, fmt.Errorf("openapi v3 for %s: %w", gv, err)
		}
		path := "apis/" + gv.String()
		if gv.Group == "" {
			path = "api/" + gv.Version
		}
		sum := sha512.Sum512(doc)
		hash := strings.ToUpper(hex.EncodeToString(sum[:]))
		docs.V3[path], docs.V3Hash[path] = doc, hash
		index[path] = map[string]string{"serverRelativeURL": "/openapi/v3/" + path + "?hash=" + hash}
	}
	if docs.V3Index, err = json.Marshal(map[string]any{"paths": index}); err != nil {
		return nil, err
	}
	if docs.V2, err = buildV2(resources, kubeVersion, smd); err != nil {
		return nil, fmt.Errorf("openapi v2: %w", err)
	}
	return docs, nil
}

// smdSchema is the structured-merge-diff schema of the built-in types, as
// client-go ships it for server-side apply.
func smdSchema() (*smdschema.Schema, error) {
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}}
	tv, err := applyconfigurations.NewTypeConverter(api.Scheme).ObjectToTyped(pod)
	if err != nil {
		return nil, err
	}
	return tv.Schema(), nil
}

// collect defines every type the resources' operations use and marks the
// kinds with x-kubernetes-group-version-kind.
func collect(d *definitions, resources []*api.Resource) {
	kinds := map[string][]schema.GroupVersionKind{}
	mark := func(obj runtime.Object, gvk schema.GroupVersionKind) {
		name := d.add(reflect.TypeOf(obj))
		kinds[name] = append(kinds[name], gvk)
	}
	groups := map[schema.GroupVersion]bool{}
	for _, r := range resources {
		mark(r.New(), r.GroupVersionKind())
		mark(r.NewList(), r.GroupVersion.WithKind(r.ListKind))
		groups[r.GroupVersion] = true
		if r.Scale != nil {
			mark(&autoscalingv1.Scale{}, autoscalingv1.SchemeGroupVersion.WithKind("Scale"))
		}
		if r == api.Pods {
			mark(&corev1.Binding{}, corev1.SchemeGroupVersion.WithKind("Binding"))
		}
	}
	for gv := range groups {
		mark(&metav1.DeleteOptions{}, gv.WithKind("DeleteOptions"))
		mark(&metav1.WatchEvent{}, gv.WithKind("WatchEvent"))
	}
	mark(&metav1.Status{}, schema.GroupVersionKind{Version: "v1", Kind: "Status"})
	d.schemas[patchDef] = &Schema{Type: "object", Description: "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."}
	for name, gvks := range kinds {
		sort.Slice(gvks, func(i, j int) bool { return gvks[i].String() < gvks[j].String() })
		var ext []map[string]string
		seen := map[schema.GroupVersionKind]bool{}
		for _, g := range gvks {
			if !seen[g] {
				seen[g] = true
				ext = append(ext, map[string]string{"group": g.Group, "version": g.Version, "kind": g.Kind})
			}
		}
		d.schemas[name].ext("x-kubernetes-group-version-kind", ext)
	}
}

func defName(obj runtime.Object) string { return DefinitionName(reflect.TypeOf(obj)) }

// pathItems renders the resources' paths with one version's parameter and
// operation forms.
func pathItems(resources []*api.Resource, refPrefix string, params func([]Param) []any, operation func(*Operation, string) map[string]any) map[string]any {
	paths := map[string]any{}
	for _, r := range resources {
		for _, p := range resourcePaths(r) {
			item := map[string]any{"parameters": params(p.Params)}
			for method, op := range p.Operations {
				item[method] = operation(op, refPrefix)
			}
			paths[p.URL] = item
		}
	}
	return paths
}

func buildV3(resources []*api.Resource, kubeVersion string, smd *smdschema.Schema) ([]byte, error) {
	d := newDefinitions(true, smd)
	collect(d, resources)
	paths := pathItems(resources, d.refPrefix, paramsV3, operationV3)
	return json.Marshal(map[string]any{
		"openapi":    "3.0.0",
		"info":       map[string]string{"title": "Kubernetes", "version": kubeVersion},
		"paths":      paths,
		"components": map[string]any{"schemas": d.schemas},
	})
}

func paramsV3(params []Param) []any {
	out := make([]any, 0, len(params))
	for _, p := range params {
		m := map[string]any{"name": p.Name, "in": p.In, "description": p.Description, "schema": map[string]string{"type": p.Type}}
		if p.Required {
			m["required"] = true
		}
		if p.In == "query" {
			m["uniqueItems"] = true
		}
		out = append(out, m)
	}
	return out
}

func responseContent(ref string, watch bool) map[string]any {
	types := []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	if watch {
		types = append(types, "application/json;stream=watch")
	}
	content := map[string]any{}
	for _, t := range types {
		content[t] = map[string]any{"schema": map[string]string{"$ref": ref}}
	}
	return content
}

func operationV3(op *Operation, prefix string) map[string]any {
	m := map[string]any{
		"tags":                            op.Tags,
		"description":                     op.Description,
		"operationId":                     op.OperationID,
		"x-kubernetes-action":             op.Action,
		"x-kubernetes-group-version-kind": map[string]string{"group": op.GVK.Group, "version": op.GVK.Version, "kind": op.GVK.Kind},
	}
	if len(op.Params) > 0 {
		m["parameters"] = paramsV3(op.Params)
	}
	switch {
	case op.PatchBody:
		content := map[string]any{}
		for _, t := range patchTypes {
			content[t] = map[string]any{"schema": map[string]string{"$ref": prefix + patchDef}}
		}
		m["requestBody"] = map[string]any{"content": content, "required": true}
	case op.Body != "":
		m["requestBody"] = map[string]any{"content": map[string]any{"*/*": map[string]any{"schema": map[string]string{"$ref": prefix + op.Body}}}, "required": true}
	}
	responses := map[string]any{
		"200": map[string]any{"description": "OK", "content": responseContent(prefix+op.Response, op.Action == "list")},
		"401": map[string]any{"description": "Unauthorized"},
	}
	if op.Created {
		responses["201"] = map[string]any{"description": "Created", "content": responseContent(prefix+op.Response, false)}
	}
	if op.Action == "delete" || op.Action == "deletecollection" {
		responses["202"] = map[string]any{"description": "Accepted", "content": responseContent(prefix+op.Response, false)}
	}
	m["responses"] = responses
	return m
}

func buildV2(resources []*api.Resource, kubeVersion string, smd *smdschema.Schema) ([]byte, error) {
	d := newDefinitions(false, smd)
	collect(d, resources)
	paths := pathItems(resources, d.refPrefix, paramsV2, operationV2)
	return json.Marshal(map[string]any{
		"swagger":     "2.0",
		"info":        map[string]string{"title": "Kubernetes", "version": kubeVersion},
		"paths":       paths,
		"definitions": d.schemas,
	})
}

func paramsV2(params []Param) []any {
	out := make([]any, 0, len(params))
	for _, p := range params {
		m := map[string]any{"name": p.Name, "in": p.In, "description": p.Description, "type": p.Type}
		if p.Required {
			m["required"] = true
		}
		if p.In == "query" {
			m["uniqueItems"] = true
		}
		out = append(out, m)
	}
	return out
}

func operationV2(op *Operation, prefix string) map[string]any {
	params := paramsV2(op.Params)
	consumes := []string{"*/*"}
	switch {
	case op.PatchBody:
		consumes = patchTypes
		params = append([]any{map[string]any{"name": "body", "in": "body", "required": true, "schema": map[string]string{"$ref": prefix + patchDef}}}, params...)
	case op.Body != "":
		params = append([]any{map[string]any{"name": "body", "in": "body", "required": true, "schema": map[string]string{"$ref": prefix + op.Body}}}, params...)
	}
	ok := map[string]any{"description": "OK", "schema": map[string]string{"$ref": prefix + op.Response}}
	responses := map[string]any{"200": ok, "401": map[string]any{"description": "Unauthorized"}}
	if op.Created {
		responses["201"] = map[string]any{"description": "Created", "schema": map[string]string{"$ref": prefix + op.Response}}
	}
	return map[string]any{
		"tags":                            op.Tags,
		"description":                     op.Description,
		"operationId":                     op.OperationID,
		"consumes":                        consumes,
		"produces":                        []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"},
		"schemes":                         []string{"https"},
		"parameters":                      params,
		"responses":                       responses,
		"x-kubernetes-action":             op.Action,
		"x-kubernetes-group-version-kind": map[string]string{"group": op.GVK.Group, "version": op.GVK.Version, "kind": op.GVK.Kind},
	}
}
