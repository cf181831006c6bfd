package defaults

import (
	corev1 "k8s.io/api/core/v1"
)

// Namespace defaults a namespace: the kubernetes.io/metadata.name label
// (always equal to the name, as Kubernetes enforces, so that network policies
// can select namespaces by name) and status.phase Active. The "kubernetes"
// finalizer is not a default: it is added on create only (as Kubernetes'
// namespace strategy does), so that the finalize subresource can remove it.
func Namespace(ns *corev1.Namespace) {
	if ns.Name != "" {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
}

// Secret defaults a secret to type Opaque and merges the write-only
// stringData into data (a stringData key wins over the same data key), as
// kube-apiserver does when it decodes a Secret: stringData is never stored.
func Secret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}

// Node defaults a node: status.allocatable defaults to status.capacity, and
// spec.podCIDR and spec.podCIDRs are kept in step (podCIDR is the first of
// podCIDRs; podCIDRs wins if both are given), as kube-apiserver's conversion
// of the two fields does.
func Node(n *corev1.Node) {
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
	switch {
	case len(n.Spec.PodCIDRs) > 0:
		n.Spec.PodCIDR = n.Spec.PodCIDRs[0]
	case n.Spec.PodCIDR != "":
		n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	}
}

// Endpoints defaults every endpoint port's protocol to TCP.
func Endpoints(e *corev1.Endpoints) {
	for i := range e.Subsets {
		for j := range e.Subsets[i].Ports {
			if e.Subsets[i].Ports[j].Protocol == "" {
				e.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
}

// Event defaults an event. Kubernetes defaults no field of a core/v1 Event
// (an empty type stays empty), so this does nothing; it exists so that a
// registry can default every kind the same way.
func Event(e *corev1.Event) {}
