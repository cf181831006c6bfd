package apiserver

import (
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestParseRequestInfo(t *testing.T) {
	cases := []struct {
		method, url string
		want        requestInfo
	}{
		{"GET", "/api/v1/pods", requestInfo{IsResource: true, Version: "v1", Resource: "pods", Verb: "list"}},
		{"GET", "/api/v1/pods?watch=1", requestInfo{IsResource: true, Version: "v1", Resource: "pods", Verb: "watch"}},
		{"GET", "/api/v1/watch/namespaces/ns/pods", requestInfo{IsResource: true, Version: "v1", Namespace: "ns", Resource: "pods", Verb: "watch"}},
		{"GET", "/api/v1/namespaces/ns/pods/p", requestInfo{IsResource: true, Version: "v1", Namespace: "ns", Resource: "pods", Name: "p", Verb: "get"}},
		{"PUT", "/api/v1/namespaces/ns/pods/p/status", requestInfo{IsResource: true, Version: "v1", Namespace: "ns", Resource: "pods", Name: "p", Subresource: "status", Verb: "update"}},
		{"POST", "/api/v1/namespaces/ns/pods/p/binding", requestInfo{IsResource: true, Version: "v1", Namespace: "ns", Resource: "pods", Name: "p", Subresource: "binding", Verb: "create"}},
		{"GET", "/api/v1/namespaces", requestInfo{IsResource: true, Version: "v1", Resource: "namespaces", Verb: "list"}},
		{"DELETE", "/api/v1/namespaces/ns", requestInfo{IsResource: true, Version: "v1", Resource: "namespaces", Name: "ns", Verb: "delete"}},
		{"PUT", "/api/v1/namespaces/ns/finalize", requestInfo{IsResource: true, Version: "v1", Resource: "namespaces", Name: "ns", Subresource: "finalize", Verb: "update"}},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", requestInfo{IsResource: true, Group: "apps", Version: "v1", Namespace: "ns", Resource: "deployments", Name: "d", Subresource: "scale", Verb: "patch"}},
		{"DELETE", "/apis/apps/v1/namespaces/ns/deployments", requestInfo{IsResource: true, Group: "apps", Version: "v1", Namespace: "ns", Resource: "deployments", Verb: "deletecollection"}},
		{"GET", "/api", requestInfo{}},
		{"GET", "/apis/apps", requestInfo{}},
		{"GET", "/healthz", requestInfo{}},
	}
	for _, c := range cases {
		got := parseRequestInfo(httptest.NewRequest(c.method, c.url, nil))
		if got != c.want {
			t.Errorf("%s %s:\n got %+v\nwant %+v", c.method, c.url, got, c.want)
		}
	}
}

func TestIPAllocatorRange(t *testing.T) {
	_, cidr, _ := net.ParseCIDR("10.96.0.0/12")
	a, err := newIPAllocator(nil, cidr)
	if err != nil {
		t.Fatal(err)
	}
	if a.size != 1<<20-3 {
		t.Fatalf("a /12 offers %d addresses, want 2^20-3", a.size)
	}
	if a.addr(a.first) != "10.96.0.2" || a.addr(a.first+a.size-1) != "10.111.255.254" {
		t.Fatalf("range %s..%s", a.addr(a.first), a.addr(a.first+a.size-1))
	}
	for range 1000 {
		ip, _ := a.candidate(nil, 0)
		if !a.contains(ip) || ip == "10.96.0.1" || ip == "10.96.0.0" || ip == "10.111.255.255" {
			t.Fatalf("candidate %s", ip)
		}
	}
	for _, bad := range []string{"fd00::/64", "10.0.0.0/30"} {
		_, c, _ := net.ParseCIDR(bad)
		if _, err := newIPAllocator(nil, c); err == nil {
			t.Errorf("range %s accepted", bad)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	if b, n, err := parsePortRange("30000-32767"); err != nil || b != 30000 || n != 2768 {
		t.Fatalf("30000-32767: %d %d %v", b, n, err)
	}
	for _, bad := range []string{"30000", "5-1", "0-10", "1-70000", "a-b"} {
		if _, _, err := parsePortRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestCheckPathSegments: a namespace or name in the URL that cannot be a
// key segment is a 400 for every verb (kube-apiserver's "Name parameter
// invalid"); other odd namespaces are namespaces that do not exist.
func TestCheckPathSegments(t *testing.T) {
	cases := []struct {
		method, url string
		want        string // "" = accepted; else a word of the 400
	}{
		{"GET", "/api/v1/namespaces/default/pods/web", ""},
		{"GET", "/api/v1/namespaces/../pods", `Namespace parameter invalid: ".."`},
		{"GET", "/api/v1/namespaces/./pods/web", `Namespace parameter invalid: "."`},
		{"DELETE", "/api/v1/namespaces/a%25b/pods/web", `Namespace parameter invalid: "a%b": may not contain '%'`},
		{"GET", "/api/v1/namespaces/default/pods/..", `Name parameter invalid: ".."`},
		{"PUT", "/api/v1/namespaces/default/pods/.", `Name parameter invalid: "."`},
		{"PATCH", "/api/v1/namespaces/default/pods/a%25b/status", `Name parameter invalid: "a%b"`},
		{"GET", "/api/v1/namespaces/..", `Name parameter invalid: ".."`},
		{"GET", "/api/v1/watch/namespaces/default/pods/..", `Name parameter invalid`},
		// Not a key segment problem: a namespace that does not exist.
		{"GET", "/api/v1/namespaces/%00/pods", ""},
		{"GET", "/api/v1/namespaces/..x/pods/x..", ""},
	}
	for _, c := range cases {
		err := checkPathSegments(parseRequestInfo(httptest.NewRequest(c.method, c.url, nil)))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %s: %v, want accepted", c.method, c.url, err)
		case c.want != "" && (!apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %s: %v, want a 400 with %q", c.method, c.url, err, c.want)
		}
	}
}

// TestNonResourcePaths: which paths outside the resource API are served,
// and whether HEAD is (every other method but GET is a 405).
func TestNonResourcePaths(t *testing.T) {
	s := &Server{}
	cases := []struct {
		path string
		ep   nonResourceEndpoint
		head bool
	}{
		{"/healthz", healthEndpoint, true},
		{"/readyz/etcd", healthEndpoint, true},
		{"/livez", healthEndpoint, true},
		{"/metrics", metricsEndpoint, true},
		{"/version", versionEndpoint, false},
		{"/version/", versionEndpoint, false},
		{"/api", discoveryEndpoint, false},
		{"/api/v1", discoveryEndpoint, false},
		{"/apis", discoveryEndpoint, true},
		{"/apis/apps", discoveryEndpoint, true},
		{"/apis/apps/v1", discoveryEndpoint, false},
		{"/apis/example.com", notServed, false},
		{"/apis/apps/v2", notServed, false},
		{"/openapi/v2", openAPIEndpoint, true},
		{"/openapi/v3/apis/apps/v1", openAPIEndpoint, true},
		{"/metricsx", notServed, false},
		{"/", notServed, false},
	}
	for _, c := range cases {
		if ep, head := s.nonResourcePath(c.path); ep != c.ep || head != c.head {
			t.Errorf("%s: endpoint %d head %v, want %d %v", c.path, ep, head, c.ep, c.head)
		}
	}
}
