package defaults

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNamespaceDefaults(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"team": "a"}}}
	Namespace(ns)
	if want := map[string]string{"team": "a", "kubernetes.io/metadata.name": "team-a"}; !reflect.DeepEqual(ns.Labels, want) {
		t.Errorf("labels = %v, want %v", ns.Labels, want)
	}
	if ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("phase = %q", ns.Status.Phase)
	}
	// The "kubernetes" finalizer is the create strategy's, not a default:
	// defaulting an update that removed it (through the finalize
	// subresource) must not bring it back.
	if len(ns.Spec.Finalizers) != 0 {
		t.Errorf("finalizers = %v, want none", ns.Spec.Finalizers)
	}
	now := metav1.Now()
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gone", DeletionTimestamp: &now},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	Namespace(ns)
	if len(ns.Spec.Finalizers) != 0 || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("terminating namespace changed: finalizers %v, phase %q", ns.Spec.Finalizers, ns.Status.Phase)
	}
}

func TestSecretDefaults(t *testing.T) {
	s := &corev1.Secret{
		Data:       map[string][]byte{"user": []byte("old"), "keep": []byte("k")},
		StringData: map[string]string{"user": "admin", "password": "hunter2"},
	}
	Secret(s)
	if s.Type != corev1.SecretTypeOpaque {
		t.Errorf("type = %q", s.Type)
	}
	want := map[string][]byte{"user": []byte("admin"), "password": []byte("hunter2"), "keep": []byte("k")}
	if !reflect.DeepEqual(s.Data, want) || s.StringData != nil {
		t.Errorf("data = %q, stringData = %v", s.Data, s.StringData)
	}
	s = &corev1.Secret{Type: corev1.SecretTypeTLS}
	Secret(s)
	if s.Type != corev1.SecretTypeTLS || s.Data != nil {
		t.Errorf("type %q, data %v", s.Type, s.Data)
	}
}

func TestNodeDefaults(t *testing.T) {
	n := &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24"},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("4")}}}
	Node(n)
	if !reflect.DeepEqual(n.Spec.PodCIDRs, []string{"10.244.1.0/24"}) {
		t.Errorf("podCIDRs = %v", n.Spec.PodCIDRs)
	}
	if q := n.Status.Allocatable["cpu"]; q.Cmp(resource.MustParse("4")) != 0 {
		t.Errorf("allocatable cpu = %s", q.String())
	}
	// Allocatable is a copy: changing it must not change capacity.
	n.Status.Allocatable["cpu"] = resource.MustParse("3")
	if q := n.Status.Capacity["cpu"]; q.Cmp(resource.MustParse("4")) != 0 {
		t.Errorf("capacity changed with allocatable: %s", q.String())
	}

	n = &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.2.0/24", "fd00:2::/64"}},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("4")},
			Allocatable: corev1.ResourceList{"cpu": resource.MustParse("3500m")}}}
	Node(n)
	if n.Spec.PodCIDR != "10.244.2.0/24" {
		t.Errorf("podCIDR = %q", n.Spec.PodCIDR)
	}
	if q := n.Status.Allocatable["cpu"]; q.String() != "3500m" {
		t.Errorf("allocatable overwritten: %s", q.String())
	}
}

func TestEndpointsDefaults(t *testing.T) {
	e := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}, {Port: 53, Protocol: corev1.ProtocolUDP}}}}}
	Endpoints(e)
	if got := e.Subsets[0].Ports; got[0].Protocol != corev1.ProtocolTCP || got[1].Protocol != corev1.ProtocolUDP {
		t.Errorf("protocols = %q, %q", got[0].Protocol, got[1].Protocol)
	}
}

func TestEventHasNoDefaults(t *testing.T) {
	e := &corev1.Event{Reason: "Pulled"}
	want := e.DeepCopy()
	Event(e)
	if !reflect.DeepEqual(e, want) {
		t.Errorf("event changed: %+v", e)
	}
}
