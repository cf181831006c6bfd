package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

// TestInvalidObjectsNameTheirFields creates invalid objects of every
// resource and checks the 422 names each bad field with its reason.
func TestInvalidObjectsNameTheirFields(t *testing.T) {
	srv := apiservertest.Start(t)
	dyn, err := dynamic.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	gvr := func(g, r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: g, Version: "v1", Resource: r}
	}
	pod := func(spec map[string]any) map[string]any { return obj("v1", "Pod", "p", map[string]any{"spec": spec}) }
	container := func(fields map[string]any) map[string]any {
		c := map[string]any{"name": "c", "image": "busybox"}
		for k, v := range fields {
			c[k] = v
		}
		return c
	}
	cases := []struct {
		name   string
		gvr    schema.GroupVersionResource
		object map[string]any
		causes []string // "field reason", sorted
	}{
		{"pod name", gvr("", "pods"), obj("v1", "Pod", "Bad_Name", map[string]any{"spec": podSpec}),
			[]string{"metadata.name FieldValueInvalid"}},
		{"pod without containers", gvr("", "pods"), pod(map[string]any{"containers": []any{}}),
			[]string{"spec.containers FieldValueRequired"}},
		{"pod container without image, duplicate names", gvr("", "pods"), pod(map[string]any{"containers": []any{
			map[string]any{"name": "c"}, map[string]any{"name": "c", "image": "x"}}}),
			[]string{"spec.containers[0].image FieldValueRequired", "spec.containers[1].name FieldValueDuplicate"}},
		{"pod bad port and protocol", gvr("", "pods"), pod(map[string]any{"containers": []any{container(map[string]any{
			"ports": []any{map[string]any{"containerPort": int64(70000)}, map[string]any{"containerPort": int64(80), "protocol": "HTTP"}}})}}),
			[]string{"spec.containers[0].ports[0].containerPort FieldValueInvalid", "spec.containers[0].ports[1].protocol FieldValueNotSupported"}},
		{"pod requests over limits", gvr("", "pods"), pod(map[string]any{"containers": []any{container(map[string]any{
			"resources": map[string]any{"requests": map[string]any{"cpu": "2"}, "limits": map[string]any{"cpu": "1"}}})}}),
			[]string{"spec.containers[0].resources.requests FieldValueInvalid"}},
		{"pod bad quantity", gvr("", "pods"), pod(map[string]any{"containers": []any{container(map[string]any{
			"resources": map[string]any{"limits": map[string]any{"memory": "-1Gi"}}})}}),
			// Requests default to limits, so both are reported, as by Kubernetes.
			[]string{"spec.containers[0].resources.limits[memory] FieldValueInvalid", "spec.containers[0].resources.requests[memory] FieldValueInvalid"}},
		{"pod restart policy", gvr("", "pods"), pod(map[string]any{"restartPolicy": "Sometimes", "containers": []any{container(nil)}}),
			[]string{"spec.restartPolicy FieldValueNotSupported"}},
		{"pod bad label", gvr("", "pods"), map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "p", "labels": map[string]any{"bad key!": "v"}}, "spec": podSpec},
			[]string{"metadata.labels FieldValueInvalid"}},
		{"service bad port", gvr("", "services"), obj("v1", "Service", "s", map[string]any{"spec": map[string]any{
			"ports": []any{map[string]any{"port": int64(0)}}}}),
			// targetPort defaults to port, so both are reported, as by Kubernetes.
			[]string{"spec.ports[0].port FieldValueInvalid", "spec.ports[0].targetPort FieldValueInvalid"}},
		{"service without ports", gvr("", "services"), obj("v1", "Service", "s", map[string]any{"spec": map[string]any{"selector": map[string]any{"a": "b"}}}),
			[]string{"spec.ports FieldValueRequired"}},
		{"service bad type", gvr("", "services"), obj("v1", "Service", "s", map[string]any{"spec": map[string]any{
			"type": "Magic", "ports": []any{map[string]any{"port": int64(80)}}}}),
			[]string{"spec.type FieldValueNotSupported"}},
		{"service name must be a DNS label", gvr("", "services"), obj("v1", "Service", "a.b", map[string]any{"spec": map[string]any{
			"ports": []any{map[string]any{"port": int64(80)}}}}),
			[]string{"metadata.name FieldValueInvalid"}},
		{"deployment negative replicas", gvr("apps", "deployments"), obj("apps/v1", "Deployment", "d", map[string]any{"spec": map[string]any{
			"replicas": int64(-1), "selector": map[string]any{"matchLabels": map[string]any{"app": "d"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "d"}}, "spec": podSpec}}}),
			[]string{"spec.replicas FieldValueInvalid"}},
		{"deployment selector not matching template", gvr("apps", "deployments"), obj("apps/v1", "Deployment", "d", map[string]any{"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "d"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "other"}}, "spec": podSpec}}}),
			[]string{"spec.template.metadata.labels FieldValueInvalid"}},
		{"deployment without selector", gvr("apps", "deployments"), obj("apps/v1", "Deployment", "d", map[string]any{"spec": map[string]any{
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "d"}}, "spec": podSpec}}}),
			[]string{"spec.selector FieldValueRequired", "spec.template.metadata.labels FieldValueInvalid"}},
		{"replicaset template restart policy", gvr("apps", "replicasets"), obj("apps/v1", "ReplicaSet", "r", map[string]any{"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "r"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "r"}},
				"spec": map[string]any{"restartPolicy": "Never", "containers": []any{container(nil)}}}}}),
			[]string{"spec.template.spec.restartPolicy FieldValueNotSupported"}},
		{"configmap bad key", gvr("", "configmaps"), obj("v1", "ConfigMap", "c", map[string]any{"data": map[string]any{"bad key": "v"}}),
			[]string{"data[bad key] FieldValueInvalid"}},
		{"lease bad duration", gvr("coordination.k8s.io", "leases"), obj("coordination.k8s.io/v1", "Lease", "l", map[string]any{"spec": map[string]any{"leaseDurationSeconds": int64(0)}}),
			[]string{"spec.leaseDurationSeconds FieldValueInvalid"}},
		{"namespace name", gvr("", "namespaces"), obj("v1", "Namespace", "UPPER", nil),
			[]string{"metadata.name FieldValueInvalid"}},
		{"endpoints bad ip", gvr("", "endpoints"), obj("v1", "Endpoints", "e", map[string]any{"subsets": []any{map[string]any{
			"addresses": []any{map[string]any{"ip": "not-an-ip"}}, "ports": []any{map[string]any{"port": int64(80)}}}}}),
			[]string{"subsets[0].addresses[0].ip FieldValueInvalid"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var client dynamic.ResourceInterface = dyn.Resource(c.gvr).Namespace("default")
			if c.gvr.Resource == "namespaces" || c.gvr.Resource == "nodes" {
				client = dyn.Resource(c.gvr)
			}
			_, err := client.Create(context.Background(), &unstructured.Unstructured{Object: c.object}, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("got %v, want 422 Invalid", err)
			}
			var got []string
			for _, cause := range err.(apierrors.APIStatus).Status().Details.Causes {
				got = append(got, cause.Field+" "+string(cause.Type))
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(c.causes) {
				t.Fatalf("causes %v, want %v\n%v", got, c.causes, err)
			}
		})
	}
}

// rawRequest sends a request and decodes the Status of the reply.
func rawRequest(t *testing.T, srv *apiservertest.Server, method, path, contentType string, body []byte) (int, metav1.Status) {
	t.Helper()
	code, _, st := request(t, srv, method, path, map[string]string{"Content-Type": contentType}, body)
	return code, st
}

// request sends a request with the given headers ("" values are not sent)
// and decodes the Status of an error reply, which must be one.
func request(t *testing.T, srv *apiservertest.Server, method, path string, header map[string]string, body []byte) (int, http.Header, metav1.Status) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var st metav1.Status
	if resp.StatusCode >= 400 && method != http.MethodHead {
		if err := json.Unmarshal(data, &st); err != nil || st.Kind != "Status" {
			t.Fatalf("%s %s: %d with a body that is not a Status: %s", method, path, resp.StatusCode, data)
		}
		if int(st.Code) != resp.StatusCode {
			t.Fatalf("Status code %d in a %d response", st.Code, resp.StatusCode)
		}
	}
	return resp.StatusCode, resp.Header, st
}

func TestBadRequestsGetStatuses(t *testing.T) {
	srv := apiservertest.Start(t)
	const pods = "/api/v1/namespaces/default/pods"
	validPod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`
	if code, st := rawRequest(t, srv, "POST", pods, "application/json", []byte(validPod)); code != http.StatusCreated {
		t.Fatalf("valid pod: %d %s", code, st.Message)
	}
	big := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":%q}}`, strings.Repeat("x", 4<<20))
	const deployments = "/apis/apps/v1/namespaces/default/deployments"
	deployment := func(command string) string {
		d, _ := json.Marshal(obj("apps/v1", "Deployment", "d", map[string]any{"spec": workloadSpec("d")}))
		return strings.Replace(string(d), `"image":"busybox"`, fmt.Sprintf(`"image":"busybox","command":[%q]`, command), 1)
	}
	if code, st := rawRequest(t, srv, "POST", deployments, "application/json", []byte(deployment("true"))); code != http.StatusCreated {
		t.Fatalf("deployment: %d %s", code, st.Message)
	}
	// Under the 3 MiB body limit, over the 1.5 MiB an object may take in etcd.
	twoMB := strings.Repeat("x", 2000000)
	hugePod := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"huge"},"spec":{"containers":[{"name":"c","image":"busybox","command":[%q]}]}}`, twoMB)
	jsonPatch := func(ops int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"op":"test","path":"/metadata/name","value":"p"},`, ops), ",") + "]"
	}
	continueToken := func(start string) string {
		data, _ := json.Marshal(map[string]any{"v": "meta.k8s.io/v1", "rv": 1, "start": start})
		return base64.RawURLEncoding.EncodeToString(data)
	}
	cases := []struct {
		name, method, path, contentType, body string
		code                                  int
		reason                                metav1.StatusReason
		message                               string
	}{
		{"malformed JSON", "POST", pods, "application/json", `{"apiVersion":"v1",`, 400, metav1.StatusReasonBadRequest, "cannot be handled as a Pod"},
		{"wrong JSON type", "POST", pods, "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":5}}`, 400, metav1.StatusReasonBadRequest, "cannot be handled as a Pod"},
		{"empty body", "POST", pods, "application/json", ``, 400, metav1.StatusReasonBadRequest, "empty"},
		{"oversized body", "POST", "/api/v1/namespaces/default/configmaps", "application/json", big, 413, metav1.StatusReasonRequestEntityTooLarge, "limit is 3145728"},
		{"unknown field under Strict", "POST", pods + "?fieldValidation=Strict", "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"},"spec":{"containres":[],"containers":[{"name":"c","image":"i"}]}}`,
			400, metav1.StatusReasonBadRequest, `strict decoding error: unknown field "spec.containres"`},
		{"duplicate field under Strict", "POST", pods + "?fieldValidation=Strict", "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q","name":"r"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
			400, metav1.StatusReasonBadRequest, `duplicate field "metadata.name"`},
		{"bad fieldValidation", "POST", pods + "?fieldValidation=Loose", "application/json", validPod, 400, metav1.StatusReasonBadRequest, "fieldValidation"},
		{"namespace mismatch", "POST", pods, "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q","namespace":"other"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
			400, metav1.StatusReasonBadRequest, "does not match the namespace"},
		{"name mismatch on PUT", "PUT", pods + "/p", "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"other"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
			400, metav1.StatusReasonBadRequest, "does not match the name on the URL"},
		{"wrong kind", "POST", pods, "application/json", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"q"}}`, 400, metav1.StatusReasonBadRequest, "kind"},
		{"wrong group", "POST", pods, "application/json", `{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"q"}}`, 400, metav1.StatusReasonBadRequest, "API version"},
		{"unsupported media type", "POST", pods, "text/plain", validPod, 415, metav1.StatusReasonUnsupportedMediaType, "unknown format"},
		{"unsupported patch type", "PATCH", pods + "/p", "application/xml", `{}`, 415, metav1.StatusReasonUnsupportedMediaType, "unknown format"},
		{"resourceVersion on create", "POST", pods, "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q","resourceVersion":"5"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
			400, metav1.StatusReasonBadRequest, "resourceVersion should not be set"},
		{"bad limit", "GET", pods + "?limit=many", "", ``, 400, metav1.StatusReasonBadRequest, "limit"},
		{"bad resourceVersion", "GET", pods + "?resourceVersion=abc", "", ``, 400, metav1.StatusReasonBadRequest, "resource version"},
		{"bad continue", "GET", pods + "?limit=1&continue=garbage", "", ``, 400, metav1.StatusReasonBadRequest, "continue"},
		{"unknown resource", "GET", "/api/v1/namespaces/default/gizmos", "", ``, 404, metav1.StatusReasonNotFound, "could not find the requested resource"},
		{"unknown group", "GET", "/apis/example.com/v1/things", "", ``, 404, metav1.StatusReasonNotFound, "could not find"},
		{"missing object", "GET", pods + "/missing", "", ``, 404, metav1.StatusReasonNotFound, `pods "missing" not found`},
		{"unknown subresource", "GET", pods + "/p/bogus", "", ``, 404, metav1.StatusReasonNotFound, "could not find"},
		{"POST to an object", "POST", pods + "/p", "application/json", validPod, 405, metav1.StatusReasonMethodNotAllowed, ""},
		{"future resourceVersion", "GET", pods + "?resourceVersion=999999999", "", ``, 504, metav1.StatusReasonTimeout, "Too large resource version"},

		// Objects too large for etcd: a 413 whichever write makes them.
		{"pod too large to store", "POST", pods, "application/json", hugePod, 413, metav1.StatusReasonRequestEntityTooLarge, "limit is 1572864"},
		{"update too large to store", "PUT", deployments + "/d", "application/json", deployment(twoMB), 413, metav1.StatusReasonRequestEntityTooLarge, "limit is 1572864"},
		{"patch too large to store", "PATCH", deployments + "/d", "application/merge-patch+json",
			fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox","command":[%q]}]}}}}`, twoMB),
			413, metav1.StatusReasonRequestEntityTooLarge, "limit is 1572864"},
		{"JSON patch of too many operations", "PATCH", pods + "/p", "application/json-patch+json", jsonPatch(20000), 413, metav1.StatusReasonRequestEntityTooLarge,
			"The allowed maximum operations in a JSON patch is 10000, got 20000"},

		// Selectors: apimachinery's parse errors are the message, as in kube-apiserver.
		{"malformed label selector", "GET", pods + "?labelSelector=x%3D(", "", ``, 400, metav1.StatusReasonBadRequest, "^unable to parse requirement: found '(', expected: identifier"},
		{"label selector with an empty key", "GET", pods + "?labelSelector=a,,b", "", ``, 400, metav1.StatusReasonBadRequest, "^found ',', expected: identifier after ','"},
		{"malformed field selector", "GET", pods + "?fieldSelector=a!b", "", ``, 400, metav1.StatusReasonBadRequest, "^invalid selector: 'a!b'; can't understand 'a!b'"},
		{"field selector without a field", "GET", pods + "?fieldSelector=%3Db", "", ``, 400, metav1.StatusReasonBadRequest, "^field label not supported: "},
		{"unsupported field label", "GET", pods + "?fieldSelector=spec.bogus%3D1", "", ``, 400, metav1.StatusReasonBadRequest, "field label not supported: spec.bogus"},

		{"continue token leaving its list", "GET", pods + "?limit=1&continue=" + continueToken("../secrets/"), "", ``, 400, metav1.StatusReasonBadRequest, "^invalid continue token: continue key is not valid: ../secrets/"},
		{"continue token with a dot segment", "GET", pods + "?limit=1&continue=" + continueToken("a/./b"), "", ``, 400, metav1.StatusReasonBadRequest, "invalid continue token"},

		// Namespaces and names that cannot be key segments, for every verb.
		{"namespace ..", "GET", "/api/v1/namespaces/../pods", "", ``, 400, metav1.StatusReasonBadRequest, `Namespace parameter invalid: ".."`},
		{"namespace .. on create", "POST", "/api/v1/namespaces/../pods", "application/json", validPod, 400, metav1.StatusReasonBadRequest, `Namespace parameter invalid: ".."`},
		{"name ..", "GET", pods + "/..", "", ``, 400, metav1.StatusReasonBadRequest, `Name parameter invalid: ".."`},
		{"name with %", "DELETE", pods + "/a%25b", "", ``, 400, metav1.StatusReasonBadRequest, `Name parameter invalid: "a%b": may not contain '%'`},
		{"name . on a subresource", "PUT", pods + "/./status", "application/json", validPod, 400, metav1.StatusReasonBadRequest, `Name parameter invalid: "."`},
		{"namespace named ..", "DELETE", "/api/v1/namespaces/..", "", ``, 400, metav1.StatusReasonBadRequest, `Name parameter invalid: ".."`},

		// Writes to paths outside the resource API.
		{"POST /version", "POST", "/version", "application/json", `{}`, 405, metav1.StatusReasonMethodNotAllowed, "^the server does not allow this method on the requested resource"},
		{"DELETE /metrics", "DELETE", "/metrics", "", ``, 405, metav1.StatusReasonMethodNotAllowed, "^the server does not allow this method on the requested resource"},
		{"PUT /api/v1", "PUT", "/api/v1", "application/json", `{}`, 405, metav1.StatusReasonMethodNotAllowed, "^the server does not allow this method on the requested resource"},
		{"POST /openapi/v2", "POST", "/openapi/v2", "application/json", `{}`, 405, metav1.StatusReasonMethodNotAllowed, "^the server does not allow this method on the requested resource"},
		{"POST /healthz", "POST", "/healthz", "", ``, 405, metav1.StatusReasonMethodNotAllowed, "^the server does not allow this method on the requested resource"},
		{"DELETE /apis/apps/v1", "DELETE", "/apis/apps/v1", "", ``, 405, metav1.StatusReasonMethodNotAllowed, "^the server does not allow this method on the requested resource"},
		{"PATCH /apis", "PATCH", "/apis", "application/merge-patch+json", `{}`, 405, metav1.StatusReasonMethodNotAllowed, "^the server does not allow this method on the requested resource"},
		{"POST to an unserved path", "POST", "/version/x", "", ``, 404, metav1.StatusReasonNotFound, "could not find"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, st := rawRequest(t, srv, c.method, c.path, c.contentType, []byte(c.body))
			// A message starting with ^ is the start of the Status message.
			matches := strings.Contains(st.Message, c.message)
			if prefix, ok := strings.CutPrefix(c.message, "^"); ok {
				matches = strings.HasPrefix(st.Message, prefix)
			}
			if code != c.code || st.Reason != c.reason || !matches {
				t.Fatalf("got %d %s %q, want %d %s containing %q", code, st.Reason, st.Message, c.code, c.reason, c.message)
			}
		})
	}
}

// TestNotAcceptableBeforeSideEffects: a request whose Accept header names no
// form the server writes gets a 406 before it does anything, for every verb
// and subresource, as kube-apiserver negotiates the response first.
func TestNotAcceptableBeforeSideEffects(t *testing.T) {
	srv := apiservertest.Start(t)
	const pods = "/api/v1/namespaces/default/pods"
	const deployments = "/apis/apps/v1/namespaces/default/deployments"
	mustCreate := func(path, body string) {
		if code, _, st := request(t, srv, "POST", path, map[string]string{"Content-Type": "application/json"}, []byte(body)); code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, code, st.Message)
		}
	}
	mustCreate(pods, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`)
	d, _ := json.Marshal(obj("apps/v1", "Deployment", "d", map[string]any{"spec": workloadSpec("d")}))
	mustCreate(deployments, string(d))
	mustCreate("/api/v1/namespaces/default/configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}`)
	get := func(path string) map[string]any {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var o map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return o
	}
	before := map[string]map[string]any{
		pods + "/p":        get(pods + "/p"),
		deployments + "/d": get(deployments + "/d"),
		"/api/v1/namespaces/default/configmaps/cm": get("/api/v1/namespaces/default/configmaps/cm"),
	}

	cases := []struct {
		name, method, path, contentType, body string
	}{
		{"create", "POST", pods, "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`},
		{"update", "PUT", pods + "/p", "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"changed":"yes"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`},
		{"merge patch", "PATCH", pods + "/p", "application/merge-patch+json", `{"metadata":{"labels":{"changed":"yes"}}}`},
		{"server-side apply", "PATCH", pods + "/p?fieldManager=t", "application/apply-patch+yaml", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"changed":"yes"}}}`},
		{"status patch", "PATCH", pods + "/p/status", "application/merge-patch+json", `{"status":{"phase":"Running"}}`},
		{"binding", "POST", pods + "/p/binding", "application/json", `{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"n1"}}`},
		{"scale", "PATCH", deployments + "/d/scale", "application/merge-patch+json", `{"spec":{"replicas":7}}`},
		{"delete", "DELETE", pods + "/p", "", ``},
		{"delete collection", "DELETE", "/api/v1/namespaces/default/configmaps", "", ``},
		{"delete deployment", "DELETE", deployments + "/d", "", ``},
		{"get", "GET", pods + "/p", "", ``},
		{"list", "GET", pods, "", ``},
		{"watch", "GET", pods + "?watch=true", "", ``},
		{"discovery", "GET", "/api/v1", "", ``},
		{"version", "GET", "/version", "", ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, st := request(t, srv, c.method, c.path, map[string]string{"Content-Type": c.contentType, "Accept": "application/xml"}, []byte(c.body))
			if code != http.StatusNotAcceptable || st.Reason != metav1.StatusReasonNotAcceptable {
				t.Fatalf("got %d %s %q, want 406 NotAcceptable", code, st.Reason, st.Message)
			}
		})
	}
	if code, _, _ := request(t, srv, "GET", pods+"/q", nil, nil); code != http.StatusNotFound {
		t.Errorf("the refused create made pod q (GET: %d)", code)
	}
	for path, want := range before {
		if got := get(path); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s changed under refused requests:\n got %v\nwant %v", path, got, want)
		}
	}
	// What a client accepting JSON among others gets is unchanged.
	if code, _, st := request(t, srv, "POST", pods, map[string]string{"Content-Type": "application/json", "Accept": "application/xml, application/json"},
		[]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`)); code != http.StatusCreated {
		t.Fatalf("create accepting JSON second: %d %s", code, st.Message)
	}
}

// TestNonResourcePathsAnswerGET: paths outside the resource API answer GET,
// HEAD where kube-apiserver does, and 405 otherwise (TestBadRequestsGetStatuses
// has the writes).
func TestNonResourcePathsAnswerGET(t *testing.T) {
	srv := apiservertest.Start(t)
	cases := []struct {
		method, path string
		code         int
	}{
		{"GET", "/version", 200}, {"HEAD", "/version", 405},
		{"GET", "/api", 200}, {"HEAD", "/api", 405},
		{"GET", "/api/v1", 200}, {"HEAD", "/api/v1", 405},
		{"GET", "/apis/apps/v1", 200}, {"HEAD", "/apis/apps/v1", 405},
		{"GET", "/apis", 200}, {"HEAD", "/apis", 200},
		{"GET", "/apis/apps", 200}, {"HEAD", "/apis/apps", 200},
		{"GET", "/healthz", 200}, {"HEAD", "/healthz", 200},
		{"HEAD", "/livez", 200}, {"HEAD", "/readyz", 200},
		{"GET", "/metrics", 200}, {"HEAD", "/metrics", 200},
		{"GET", "/openapi/v2", 200}, {"HEAD", "/openapi/v2", 200},
		{"GET", "/openapi/v3", 200}, {"OPTIONS", "/openapi/v3", 405},
		{"HEAD", "/apis/example.com", 404},
	}
	for _, c := range cases {
		code, header, _ := request(t, srv, c.method, c.path, nil, nil)
		if code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, code, c.code)
		}
		if code == http.StatusMethodNotAllowed && !strings.HasPrefix(header.Get("Allow"), "GET") {
			t.Errorf("%s %s: 405 with Allow %q", c.method, c.path, header.Get("Allow"))
		}
	}
}

// TestInputKubernetesAccepts: input that looks wrong but that kube-apiserver
// 1.32 accepts, answered as it does.
func TestInputKubernetesAccepts(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := testCtx(t)
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	pods := cs.CoreV1().Pods("default")

	// A negative terminationGracePeriodSeconds is stored as 1.
	p := newPod("negative-grace", map[string]string{"a": ""})
	p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](-5)
	created, err := pods.Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create with a negative grace period: %v", err)
	}
	if g := created.Spec.TerminationGracePeriodSeconds; g == nil || *g != 1 {
		t.Fatalf("created with grace %v, want 1", g)
	}
	if _, err := pods.Create(ctx, newPod("other", map[string]string{"a": "x"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// "a in ()" is apimachinery's selector syntax for a in (""): the empty
	// value, which kube-apiserver's parser documents as valid.
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "a in ()"})
	if err != nil {
		t.Fatalf("list with a in (): %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "negative-grace" {
		t.Fatalf("a in () listed %d pods, want the one labelled a=\"\"", len(list.Items))
	}
	if list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "a notin ()"}); err != nil || len(list.Items) != 1 || list.Items[0].Name != "other" {
		t.Fatalf("a notin (): %v, %v", list, err)
	}

	// A namespace no object can be in is a namespace that does not exist.
	if code, _, st := request(t, srv, "GET", "/api/v1/namespaces/%00/pods", nil, nil); code != http.StatusOK {
		t.Fatalf("list in namespace %%00: %d %s", code, st.Message)
	}
	if code, _, _ := request(t, srv, "GET", "/api/v1/namespaces/%00/pods/negative-grace", nil, nil); code != http.StatusNotFound {
		t.Fatalf("get in namespace %%00: %d, want 404", code)
	}

	// A JSON patch of exactly the most operations allowed applies.
	ops := "[" + strings.TrimSuffix(strings.Repeat(`{"op":"test","path":"/metadata/name","value":"other"},`, 10000), ",") + "]"
	if _, err := pods.Patch(ctx, "other", types.JSONPatchType, []byte(ops), metav1.PatchOptions{}); err != nil {
		t.Fatalf("JSON patch of 10000 operations: %v", err)
	}
}
