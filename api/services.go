package api

import (
	corev1 "k8s.io/api/core/v1"
)

// prepareServiceUpdate does for a service update what Kubernetes' service
// strategy does: values the service was allocated (cluster IPs, node ports,
// the health check node port) that the update leaves out are kept, and those
// its new type no longer uses are dropped, so a PUT or apply of a manifest
// without them neither fails nor changes them.
func prepareServiceUpdate(svc, old *corev1.Service) {
	s, o := &svc.Spec, &old.Spec
	if NeedsClusterIP(old) && NeedsClusterIP(svc) && s.ClusterIP == "" && len(s.ClusterIPs) == 0 {
		s.ClusterIP, s.ClusterIPs = o.ClusterIP, append([]string(nil), o.ClusterIPs...)
		if len(s.IPFamilies) == 0 {
			s.IPFamilies = append([]corev1.IPFamily(nil), o.IPFamilies...)
		}
		if s.IPFamilyPolicy == nil {
			s.IPFamilyPolicy = o.IPFamilyPolicy
		}
	}
	if NeedsNodePorts(old) && NeedsNodePorts(svc) {
		for i := range s.Ports {
			if s.Ports[i].NodePort == 0 {
				s.Ports[i].NodePort = oldNodePort(old, s.Ports[i])
			}
		}
		if s.HealthCheckNodePort == 0 {
			s.HealthCheckNodePort = o.HealthCheckNodePort
		}
	}
	if NeedsNodePorts(old) && !NeedsNodePorts(svc) {
		for i := range s.Ports {
			if p := s.Ports[i].NodePort; p != 0 && p == oldNodePort(old, s.Ports[i]) {
				s.Ports[i].NodePort = 0
			}
		}
	}
	if s.Type != corev1.ServiceTypeLoadBalancer && s.HealthCheckNodePort == o.HealthCheckNodePort {
		s.HealthCheckNodePort = 0
	}
	externallyAccessible := NeedsNodePorts(svc) || (s.Type == corev1.ServiceTypeClusterIP && len(s.ExternalIPs) > 0)
	if !externallyAccessible && s.ExternalTrafficPolicy == o.ExternalTrafficPolicy {
		s.ExternalTrafficPolicy = ""
	}
	if s.Type != corev1.ServiceTypeLoadBalancer {
		if s.AllocateLoadBalancerNodePorts != nil && o.AllocateLoadBalancerNodePorts != nil && *s.AllocateLoadBalancerNodePorts == *o.AllocateLoadBalancerNodePorts {
			s.AllocateLoadBalancerNodePorts = nil
		}
		if s.LoadBalancerClass != nil && o.LoadBalancerClass != nil && *s.LoadBalancerClass == *o.LoadBalancerClass {
			s.LoadBalancerClass = nil
		}
	}
	if NeedsClusterIP(old) && s.Type == corev1.ServiceTypeExternalName && s.ClusterIP == o.ClusterIP {
		s.ClusterIP, s.ClusterIPs, s.IPFamilies, s.IPFamilyPolicy = "", nil, nil, nil
	}
}

func oldNodePort(old *corev1.Service, p corev1.ServicePort) int32 {
	for _, op := range old.Spec.Ports {
		if op.Port == p.Port && op.Protocol == p.Protocol {
			return op.NodePort
		}
	}
	return 0
}

// NeedsClusterIP reports whether a service is given a cluster IP.
func NeedsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

// NeedsNodePorts reports whether a service's ports are given node ports.
func NeedsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}
