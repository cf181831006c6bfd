package openapi

import (
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/shepherd-lab/shepherd/api"
)

// Operation is an OpenAPI operation, in the form both versions share; the
// document builders turn bodies and responses into each version's shape.
type Operation struct {
	Tags        []string
	Description string
	OperationID string
	Action      string // x-kubernetes-action
	GVK         schema.GroupVersionKind
	Params      []Param
	// Body is the definition name of the request body ("" for none);
	// PatchBody marks a patch, whose body is any of the patch media types.
	Body      string
	PatchBody bool
	// Response is the definition name of the 200 (or 201) response.
	Response string
	Created  bool
}

// Param is a path or query parameter.
type Param struct {
	Name, In, Type, Description string
	Required                    bool
}

// Path is one URL template and its operations by HTTP method.
type Path struct {
	URL        string
	Operations map[string]*Operation // "get", "put", "post", "patch", "delete"
	Params     []Param               // shared by every operation
}

var (
	paramPretty          = Param{"pretty", "query", "string", "If 'true', then the output is pretty printed.", false}
	paramDryRun          = Param{"dryRun", "query", "string", "When present, indicates that modifications should not be persisted. The only valid value is All.", false}
	paramFieldManager    = Param{"fieldManager", "query", "string", "fieldManager is a name associated with the actor or entity that is making these changes.", false}
	paramFieldValidation = Param{"fieldValidation", "query", "string", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (the default) and Strict.", false}
	paramForce           = Param{"force", "query", "boolean", "Force is going to \"force\" Apply requests: it re-acquires conflicting fields owned by other people.", false}
	listParams           = []Param{
		{"allowWatchBookmarks", "query", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".", false},
		{"continue", "query", "string", "The continue option should be set when retrieving more results from the server.", false},
		{"fieldSelector", "query", "string", "A selector to restrict the list of returned objects by their fields.", false},
		{"labelSelector", "query", "string", "A selector to restrict the list of returned objects by their labels.", false},
		{"limit", "query", "integer", "limit is a maximum number of responses to return for a list call.", false},
		{"resourceVersion", "query", "string", "resourceVersion sets a constraint on what resource versions a request may be served from.", false},
		{"resourceVersionMatch", "query", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls.", false},
		{"sendInitialEvents", "query", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`: the stream begins with synthetic events of the current state.", false},
		{"timeoutSeconds", "query", "integer", "Timeout for the list/watch call.", false},
		{"watch", "query", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.", false},
	}
	deleteParams = []Param{
		paramDryRun,
		{"gracePeriodSeconds", "query", "integer", "The duration in seconds before the object should be deleted.", false},
		{"orphanDependents", "query", "boolean", "Deprecated: please use the PropagationPolicy.", false},
		{"propagationPolicy", "query", "string", "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'.", false},
	}
)

// resourcePaths returns the paths serving one resource.
func resourcePaths(r *api.Resource) []*Path {
	gv := r.GroupVersion
	prefix := "/api/v1"
	if gv.Group != "" {
		prefix = "/apis/" + gv.String()
	}
	tag := tagFor(gv)
	gvk := r.GroupVersionKind()
	kind, listKind := defName(r.New()), defName(r.NewList())
	nsWord := ""
	collection := prefix + "/" + r.Plural
	shared := []Param{paramPretty}
	if r.Namespaced {
		nsWord = "Namespaced"
		collection = prefix + "/namespaces/{namespace}/" + r.Plural
		shared = append(shared, Param{"namespace", "path", "string", "object name and auth scope, such as for teams and projects", true})
	}
	nameParam := Param{"name", "path", "string", "name of the " + r.Kind, true}
	id := func(verb, suffix string) string { return verb + opGroup(gv) + nsWord + r.Kind + suffix }
	op := func(o Operation) *Operation { o.Tags, o.GVK = []string{tag}, gvk; return &o }

	list := op(Operation{Action: "list", OperationID: id("list", ""), Description: "list or watch objects of kind " + r.Kind, Params: listParams, Response: listKind})
	paths := []*Path{{
		URL:    collection,
		Params: shared,
		Operations: map[string]*Operation{
			"get":  list,
			"post": op(Operation{Action: "post", OperationID: id("create", ""), Description: "create a " + r.Kind, Params: []Param{paramDryRun, paramFieldManager, paramFieldValidation}, Body: kind, Response: kind, Created: true}),
		},
	}}
	if r != api.Namespaces {
		paths[0].Operations["delete"] = op(Operation{Action: "deletecollection", OperationID: id("deleteCollection", ""), Description: "delete collection of " + r.Kind, Params: append(append([]Param{}, deleteParams...), listParams...), Body: "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", Response: "io.k8s.apimachinery.pkg.apis.meta.v1.Status"})
	}
	if r.Namespaced {
		all := op(Operation{Action: "list", OperationID: "list" + opGroup(gv) + r.Kind + "ForAllNamespaces", Description: "list or watch objects of kind " + r.Kind, Params: listParams, Response: listKind})
		paths = append(paths, &Path{URL: prefix + "/" + r.Plural, Params: []Param{paramPretty}, Operations: map[string]*Operation{"get": all}})
	}
	paths = append(paths, &Path{
		URL:    collection + "/{name}",
		Params: append(append([]Param{}, shared...), nameParam),
		Operations: map[string]*Operation{
			"get":    op(Operation{Action: "get", OperationID: id("read", ""), Description: "read the specified " + r.Kind, Response: kind}),
			"put":    op(Operation{Action: "put", OperationID: id("replace", ""), Description: "replace the specified " + r.Kind, Params: []Param{paramDryRun, paramFieldManager, paramFieldValidation}, Body: kind, Response: kind}),
			"patch":  op(Operation{Action: "patch", OperationID: id("patch", ""), Description: "partially update the specified " + r.Kind, Params: []Param{paramDryRun, paramFieldManager, paramFieldValidation, paramForce}, PatchBody: true, Response: kind}),
			"delete": op(Operation{Action: "delete", OperationID: id("delete", ""), Description: "delete a " + r.Kind, Params: deleteParams, Body: "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", Response: "io.k8s.apimachinery.pkg.apis.meta.v1.Status"}),
		},
	})
	// subresource is the path of a subresource served with the given
	// methods ("get", "put", "patch", "post").
	subresource := func(name, body string, sgvk schema.GroupVersionKind, methods ...string) *Path {
		o := func(x Operation) *Operation { x.Tags, x.GVK = []string{tag}, sgvk; return &x }
		p := &Path{URL: collection + "/{name}/" + name, Params: append(append([]Param{}, shared...), nameParam), Operations: map[string]*Operation{}}
		suffix := strings.ToUpper(name[:1]) + name[1:]
		for _, m := range methods {
			switch m {
			case "get":
				p.Operations["get"] = o(Operation{Action: "get", OperationID: id("read", suffix), Description: "read " + name + " of the specified " + r.Kind, Response: body})
			case "put":
				p.Operations["put"] = o(Operation{Action: "put", OperationID: id("replace", suffix), Description: "replace " + name + " of the specified " + r.Kind, Params: []Param{paramDryRun, paramFieldManager, paramFieldValidation}, Body: body, Response: body})
			case "patch":
				p.Operations["patch"] = o(Operation{Action: "patch", OperationID: id("patch", suffix), Description: "partially update " + name + " of the specified " + r.Kind, Params: []Param{paramDryRun, paramFieldManager, paramFieldValidation, paramForce}, PatchBody: true, Response: body})
			case "post":
				p.Operations["post"] = o(Operation{Action: "post", OperationID: id("create", suffix), Description: "create " + name + " of a " + r.Kind, Params: []Param{paramDryRun, paramFieldManager, paramFieldValidation}, Body: body, Response: body, Created: true})
			}
		}
		return p
	}
	if r.HasFinalize {
		paths = append(paths, subresource("finalize", kind, gvk, "put"))
	}
	if r.HasStatus {
		paths = append(paths, subresource("status", kind, gvk, "get", "put", "patch"))
	}
	if r.Scale != nil {
		paths = append(paths, subresource("scale", "io.k8s.api.autoscaling.v1.Scale", schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, "get", "put", "patch"))
	}
	if r == api.Pods {
		paths = append(paths, subresource("binding", "io.k8s.api.core.v1.Binding", schema.GroupVersionKind{Version: "v1", Kind: "Binding"}, "post"))
	}
	return paths
}

// tagFor is the operation tag of a group version: core_v1, apps_v1,
// coordination_v1.
func tagFor(gv schema.GroupVersion) string {
	g := gv.Group
	if g == "" {
		g = "core"
	}
	g, _, _ = strings.Cut(g, ".")
	return g + "_" + gv.Version
}

// opGroup is the group-version part of an operation id: CoreV1, AppsV1,
// CoordinationV1.
func opGroup(gv schema.GroupVersion) string {
	g := gv.Group
	if g == "" {
		g = "core"
	}
	g, _, _ = strings.Cut(g, ".")
	return upperFirst(g) + upperFirst(gv.Version)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
