package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validEndpoints() *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "10.244.1.5"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.2.7", Hostname: "web-1"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
		}},
	}
}

func TestValidateEndpoints(t *testing.T) {
	s0 := "subsets[0]"
	tests := []struct {
		name   string
		mutate func(*corev1.Endpoints)
		want   []wantErr
	}{
		{"valid", func(*corev1.Endpoints) {}, nil},
		{"no subsets", func(e *corev1.Endpoints) { e.Subsets = nil }, nil},
		{"subset without addresses", func(e *corev1.Endpoints) {
			e.Subsets[0].Addresses, e.Subsets[0].NotReadyAddresses = nil, nil
		}, errs(required(s0))},
		{"bad IP", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].IP = "10.244.1" }, errs(invalid(s0 + ".addresses[0].ip"))},
		{"loopback IP", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].IP = "127.0.0.1" }, errs(invalid(s0 + ".addresses[0].ip"))},
		{"bad hostname", func(e *corev1.Endpoints) { e.Subsets[0].NotReadyAddresses[0].Hostname = "Web.1" },
			errs(invalid(s0 + ".notReadyAddresses[0].hostname"))},
		{"port zero", func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Port = 0 }, errs(invalid(s0 + ".ports[0].port"))},
		{"protocol missing", func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Protocol = "" }, errs(required(s0 + ".ports[0].protocol"))},
		{"protocol unknown", func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Protocol = "HTTP" }, errs(notSupported(s0 + ".ports[0].protocol"))},
		{"unnamed ports", func(e *corev1.Endpoints) {
			e.Subsets[0].Ports = []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 443, Protocol: corev1.ProtocolTCP}}
		}, errs(required(s0+".ports[0].name"), required(s0+".ports[1].name"))},
		{"duplicate port names", func(e *corev1.Endpoints) {
			e.Subsets[0].Ports = append(e.Subsets[0].Ports, corev1.EndpointPort{Name: "http", Port: 8081, Protocol: corev1.ProtocolTCP})
		}, errs(duplicate(s0 + ".ports[1].name"))},
		{"bad name", func(e *corev1.Endpoints) { e.Name = "Web" }, errs(invalid("metadata.name"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := validEndpoints()
			tc.mutate(e)
			assertErrors(t, ValidateEndpoints(e), tc.want)
		})
	}
}

func TestValidateEndpointsUpdate(t *testing.T) {
	old := validEndpoints()
	old.ResourceVersion = "1"
	e := old.DeepCopy()
	e.Subsets[0].Addresses[0].IP = "10.244.1.6"
	assertErrors(t, ValidateEndpointsUpdate(e, old), nil)
	e.Subsets[0].Ports[0].Port = -1
	e.Namespace = "other"
	assertErrors(t, ValidateEndpointsUpdate(e, old), errs(invalid("metadata.namespace"), invalid("subsets[0].ports[0].port")))
}
