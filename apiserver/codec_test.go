package apiserver

import (
	"net/http/httptest"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TestAcceptable: the response form is negotiated before a request has any
// effect; an Accept header naming nothing the server writes is a 406.
func TestAcceptable(t *testing.T) {
	const table = "application/json;as=Table;v=v1;g=meta.k8s.io"
	cases := []struct {
		verb, accept string
		ok           bool
	}{
		{"create", "", true},
		{"create", "application/json", true},
		{"create", "application/xml", false},
		{"create", "application/xml, */*", true},
		{"update", "text/html", false},
		{"patch", "application/vnd.kubernetes.protobuf", true},
		{"delete", "application/yaml", true},
		{"deletecollection", "application/*", true},
		{"create", "garbage;;;", false},
		// A Table answers reads only.
		{"list", table, true},
		{"get", table + ";includeObject=Object", true},
		{"watch", table, true},
		{"create", table, false},
		{"create", table + ", application/json", true},
		// A watch is a stream: YAML has no framing for one.
		{"watch", "application/yaml", false},
		{"watch", "application/yaml, application/json", true},
		{"list", "application/yaml", true},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/api/v1/pods", nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		err := acceptable(r, c.verb)
		if c.ok && err != nil || !c.ok && !apierrors.IsNotAcceptable(err) {
			t.Errorf("%s with Accept %q: %v, want acceptable=%v", c.verb, c.accept, err, c.ok)
		}
	}
}
