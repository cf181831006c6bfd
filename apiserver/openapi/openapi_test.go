package openapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"

	"github.com/shepherd-lab/shepherd/api"
)

func build(t *testing.T) *Documents {
	t.Helper()
	docs, err := Build(api.All, "v1.32.0")
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

type doc struct {
	Paths      map[string]map[string]json.RawMessage
	Components struct {
		Schemas map[string]map[string]any
	}
	Definitions map[string]map[string]any
}

func decode(t *testing.T, data []byte) doc {
	t.Helper()
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func prop(t *testing.T, schemas map[string]map[string]any, typ, field string) map[string]any {
	t.Helper()
	s, ok := schemas[typ]
	if !ok {
		t.Fatalf("no schema %s", typ)
	}
	p, ok := s["properties"].(map[string]any)[field].(map[string]any)
	if !ok {
		t.Fatalf("%s has no property %s", typ, field)
	}
	return p
}

func TestV3SchemasFromGoTypes(t *testing.T) {
	d := decode(t, build(t).V3["api/v1"])
	s := d.Components.Schemas
	pod := s["io.k8s.api.core.v1.Pod"]
	if got := fmt.Sprint(pod["x-kubernetes-group-version-kind"]); got != "[map[group: kind:Pod version:v1]]" {
		t.Fatalf("Pod GVK extension %s", got)
	}
	if !strings.HasPrefix(pod["description"].(string), "Pod is a collection of containers") {
		t.Fatalf("Pod description %q", pod["description"])
	}
	containers := prop(t, s, "io.k8s.api.core.v1.PodSpec", "containers")
	want := map[string]string{
		"type": "array", "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name",
		"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": "[name]",
	}
	for k, v := range want {
		if got := fmt.Sprint(containers[k]); got != v {
			t.Errorf("PodSpec.containers %s = %s, want %s", k, got, v)
		}
	}
	if got := fmt.Sprint(s["io.k8s.api.core.v1.Container"]["required"]); got != "[name]" {
		t.Errorf("Container required %s, want [name]", got)
	}
	if ts := prop(t, s, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "creationTimestamp"); fmt.Sprint(ts["allOf"]) != "[map[$ref:#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time]]" {
		t.Errorf("creationTimestamp %v", ts)
	}
	if tm := s["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]; tm["type"] != "string" || tm["format"] != "date-time" {
		t.Errorf("Time schema %v", tm)
	}
	if q := s["io.k8s.apimachinery.pkg.api.resource.Quantity"]; fmt.Sprint(q["oneOf"]) != "[map[type:string] map[type:number]]" {
		t.Errorf("Quantity schema %v", q)
	}
	if ios := s["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]; ios["x-kubernetes-int-or-string"] != true || ios["format"] != "int-or-string" {
		t.Errorf("IntOrString schema %v", ios)
	}
	if env := prop(t, s, "io.k8s.api.core.v1.Container", "env"); env["x-kubernetes-list-type"] != "map" {
		t.Errorf("Container.env list type %v", env["x-kubernetes-list-type"])
	}
	if args := prop(t, s, "io.k8s.api.core.v1.Container", "args"); args["x-kubernetes-list-type"] != "atomic" {
		t.Errorf("Container.args list type %v", args["x-kubernetes-list-type"])
	}
	if labels := prop(t, s, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels"); fmt.Sprint(labels["additionalProperties"]) != "map[type:string]" {
		t.Errorf("labels %v", labels)
	}
}

// Every $ref of every document must resolve within it: a dangling one
// breaks kubectl explain and apply.
func TestReferencesResolve(t *testing.T) {
	docs := build(t)
	ref := regexp.MustCompile(`"\$ref":"#/(components/schemas|definitions)/([^"]+)"`)
	check := func(name string, data []byte, defined map[string]map[string]any) {
		for _, m := range ref.FindAllSubmatch(data, -1) {
			if _, ok := defined[string(m[2])]; !ok {
				t.Errorf("%s: $ref to undefined %s", name, m[2])
			}
		}
	}
	for path, data := range docs.V3 {
		check(path, data, decode(t, data).Components.Schemas)
	}
	check("v2", docs.V2, decode(t, docs.V2).Definitions)
}

// kubectl uses server-side field validation only when the PATCH operation
// of the kind lists the fieldValidation parameter.
func TestEveryKindAdvertisesFieldValidation(t *testing.T) {
	docs := build(t)
	for _, r := range api.All {
		path := "apis/" + r.GroupVersion.String()
		if r.GroupVersion.Group == "" {
			path = "api/v1"
		}
		d := decode(t, docs.V3[path])
		found := false
		for url, item := range d.Paths {
			raw, ok := item["patch"]
			if !ok {
				continue
			}
			var op struct {
				GVK        map[string]string       `json:"x-kubernetes-group-version-kind"`
				Parameters []struct{ Name string } `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			if op.GVK["kind"] != r.Kind || op.GVK["group"] != r.GroupVersion.Group {
				continue
			}
			for _, p := range op.Parameters {
				if p.Name == "fieldValidation" {
					found = true
				}
			}
			if !found {
				t.Errorf("PATCH %s lacks fieldValidation", url)
			}
			break
		}
		if !found {
			t.Errorf("no PATCH operation advertises fieldValidation for %s", r.GroupVersionKind())
		}
	}
}

func TestIndexAndV2(t *testing.T) {
	docs := build(t)
	var index struct {
		Paths map[string]struct{ ServerRelativeURL string }
	}
	if err := json.Unmarshal(docs.V3Index, &index); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"} {
		entry, ok := index.Paths[path]
		if !ok || entry.ServerRelativeURL != "/openapi/v3/"+path+"?hash="+docs.V3Hash[path] {
			t.Errorf("index entry for %s: %+v", path, entry)
		}
	}
	// The v2 document is valid enough for gnostic, which kubectl uses.
	v2, err := openapiv2.ParseDocument(docs.V2)
	if err != nil {
		t.Fatalf("gnostic rejects the v2 document: %v", err)
	}
	if v2.Swagger != "2.0" || len(v2.Definitions.AdditionalProperties) < 100 {
		t.Fatalf("v2: swagger %q with %d definitions", v2.Swagger, len(v2.Definitions.AdditionalProperties))
	}
	// Deterministic: the hash in a URL names one document forever.
	if again := build(t); again.V3Hash["api/v1"] != docs.V3Hash["api/v1"] {
		t.Fatal("two builds of the same API differ")
	}
}

// The finalize subresource is a PUT only, replaceCoreV1NamespaceFinalize,
// as in kube-apiserver's document; status keeps get, put and patch.
func TestNamespaceSubresourcePaths(t *testing.T) {
	d := decode(t, build(t).V3["api/v1"])
	methods := func(url string) []string {
		var out []string
		for m := range d.Paths[url] {
			if m != "parameters" {
				out = append(out, m)
			}
		}
		sort.Strings(out)
		return out
	}
	if got := methods("/api/v1/namespaces/{name}/finalize"); strings.Join(got, ",") != "put" {
		t.Fatalf("finalize methods %v, want [put]", got)
	}
	var put struct {
		OperationID string `json:"operationId"`
	}
	if err := json.Unmarshal(d.Paths["/api/v1/namespaces/{name}/finalize"]["put"], &put); err != nil || put.OperationID != "replaceCoreV1NamespaceFinalize" {
		t.Errorf("finalize PUT operationId %q (%v)", put.OperationID, err)
	}
	if got := methods("/api/v1/namespaces/{name}/status"); strings.Join(got, ",") != "get,patch,put" {
		t.Errorf("status methods %v", got)
	}
	if _, ok := d.Paths["/api/v1/namespaces/{namespace}/configmaps/{name}/finalize"]; ok {
		t.Error("config maps have a finalize path")
	}
}
