package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// maxClientIPAffinitySeconds is one day, kube-apiserver's upper bound.
const maxClientIPAffinitySeconds = 86400

var (
	supportedServiceTypes = sets.New(corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort,
		corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName)
	supportedSessionAffinities    = sets.New(corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone)
	supportedExternalPolicies     = sets.New(corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)
	supportedInternalPolicies     = sets.New(corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)
	supportedIPFamilies           = sets.New(corev1.IPv4Protocol, corev1.IPv6Protocol)
	supportedIPFamilyPolicies     = sets.New(corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack)
	supportedTrafficDistributions = sets.New(corev1.ServiceTrafficDistributionPreferClose,
		corev1.ServiceTrafficDistributionPreferSameZone, corev1.ServiceTrafficDistributionPreferSameNode)
)

// isHeadless: clusterIP "None" means no virtual IP; DNS returns the
// endpoints directly.
func isHeadless(s *corev1.Service) bool {
	return s.Spec.ClusterIP == corev1.ClusterIPNone ||
		(len(s.Spec.ClusterIPs) == 1 && s.Spec.ClusterIPs[0] == corev1.ClusterIPNone)
}

// externallyAccessible: reachable from outside the cluster network, which is
// when externalTrafficPolicy matters.
func externallyAccessible(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort ||
		(s.Spec.Type == corev1.ServiceTypeClusterIP && len(s.Spec.ExternalIPs) > 0)
}

// ValidateService validates a service being created. Node ports are not
// checked against the node port range here: the allocator owns that.
func ValidateService(s *corev1.Service) field.ErrorList {
	allErrs := validateObjectMeta(&s.ObjectMeta, true, nameIsDNS1035Label)
	spec := &s.Spec
	headless := isHeadless(s)

	if len(spec.Ports) == 0 && !headless && spec.Type != corev1.ServiceTypeExternalName {
		allErrs = append(allErrs, field.Required(specPath.Child("ports"), ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if headless {
			allErrs = append(allErrs, field.Invalid(clusterIPPath(s), corev1.ClusterIPNone,
				fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if len(spec.ClusterIPs) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		} else if spec.ClusterIP != "" {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// The name (a CNAME target) may end in a dot to mark it fully qualified.
		if cname := strings.TrimSuffix(spec.ExternalName, "."); cname != "" {
			allErrs = append(allErrs, validateDNS1123Subdomain(cname, specPath.Child("externalName"))...)
		} else {
			allErrs = append(allErrs, field.Required(specPath.Child("externalName"), ""))
		}
	}

	portsPath := specPath.Child("ports")
	names := sets.New[string]()
	for i := range spec.Ports {
		allErrs = append(allErrs, validateServicePort(&spec.Ports[i], len(spec.Ports) > 1, names, portsPath.Index(i))...)
	}
	if spec.Selector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}

	switch {
	case spec.SessionAffinity == "":
		allErrs = append(allErrs, field.Required(specPath.Child("sessionAffinity"), ""))
	case !supportedSessionAffinities.Has(spec.SessionAffinity):
		allErrs = append(allErrs, field.NotSupported(specPath.Child("sessionAffinity"), spec.SessionAffinity, sets.List(supportedSessionAffinities)))
	case spec.SessionAffinity == corev1.ServiceAffinityClientIP:
		allErrs = append(allErrs, validateClientIPAffinity(spec.SessionAffinityConfig, specPath.Child("sessionAffinityConfig"))...)
	case spec.SessionAffinityConfig != nil:
		allErrs = append(allErrs, field.Forbidden(specPath.Child("sessionAffinityConfig"),
			fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
	}

	allErrs = append(allErrs, validateClusterIPs(s)...)

	for i, ip := range spec.ExternalIPs {
		p := specPath.Child("externalIPs").Index(i)
		if errs := utilvalidation.IsValidIP(p, ip); len(errs) != 0 {
			allErrs = append(allErrs, errs...)
		} else {
			allErrs = append(allErrs, validateNonSpecialIP(ip, p)...)
		}
	}

	switch {
	case spec.Type == "":
		allErrs = append(allErrs, field.Required(specPath.Child("type"), ""))
	case !supportedServiceTypes.Has(spec.Type):
		allErrs = append(allErrs, field.NotSupported(specPath.Child("type"), spec.Type, sets.List(supportedServiceTypes)))
	}
	if spec.Type == corev1.ServiceTypeClusterIP {
		for i := range spec.Ports {
			if spec.Ports[i].NodePort != 0 {
				allErrs = append(allErrs, field.Forbidden(portsPath.Index(i).Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			}
		}
	}

	// A node port, and a port, can each be used once per protocol.
	type protoPort struct {
		protocol corev1.Protocol
		port     int32
	}
	nodePorts := map[protoPort]bool{}
	ports := map[protoPort]bool{}
	for i, p := range spec.Ports {
		if p.NodePort != 0 {
			k := protoPort{p.Protocol, p.NodePort}
			if nodePorts[k] {
				allErrs = append(allErrs, field.Duplicate(portsPath.Index(i).Child("nodePort"), p.NodePort))
			}
			nodePorts[k] = true
		}
		k := protoPort{p.Protocol, p.Port}
		if ports[k] {
			allErrs = append(allErrs, field.Duplicate(portsPath.Index(i), corev1.ServicePort{Port: p.Port, Protocol: p.Protocol}))
		}
		ports[k] = true
	}

	if len(spec.LoadBalancerSourceRanges) > 0 {
		p := specPath.Child("loadBalancerSourceRanges")
		if spec.Type != corev1.ServiceTypeLoadBalancer {
			allErrs = append(allErrs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, cidr := range spec.LoadBalancerSourceRanges {
			allErrs = append(allErrs, utilvalidation.IsValidCIDR(p.Index(i), strings.TrimSpace(cidr))...)
		}
	}
	if spec.AllocateLoadBalancerNodePorts != nil && spec.Type != corev1.ServiceTypeLoadBalancer {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		allErrs = append(allErrs, field.Required(specPath.Child("allocateLoadBalancerNodePorts"), ""))
	}
	if spec.LoadBalancerClass != nil {
		if spec.Type == corev1.ServiceTypeLoadBalancer {
			allErrs = append(allErrs, validateQualifiedName(*spec.LoadBalancerClass, specPath.Child("loadBalancerClass"))...)
		} else {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		}
	}
	allErrs = append(allErrs, validateTrafficPolicies(s)...)
	return allErrs
}

// clusterIPPath is where kube-apiserver reports a bad primary cluster IP.
func clusterIPPath(s *corev1.Service) *field.Path {
	if len(s.Spec.ClusterIPs) > 0 {
		return specPath.Child("clusterIPs").Index(0)
	}
	return specPath.Child("clusterIP")
}

func validateServicePort(sp *corev1.ServicePort, requireName bool, names sets.Set[string], fldPath *field.Path) field.ErrorList {
	allErrs := validatePort(sp.Name, sp.Port, sp.Protocol, sp.AppProtocol, requireName, names, fldPath)
	allErrs = append(allErrs, validatePortNumOrName(sp.TargetPort, fldPath.Child("targetPort"))...)
	if sp.NodePort != 0 {
		for _, msg := range utilvalidation.IsValidPortNum(int(sp.NodePort)) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("nodePort"), sp.NodePort, msg))
		}
	}
	return allErrs
}

func validateClientIPAffinity(cfg *corev1.SessionAffinityConfig, fldPath *field.Path) field.ErrorList {
	msg := fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)
	switch {
	case cfg == nil:
		return field.ErrorList{field.Required(fldPath, msg)}
	case cfg.ClientIP == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP"), msg)}
	case cfg.ClientIP.TimeoutSeconds == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP", "timeoutSeconds"), msg)}
	}
	if t := *cfg.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
		return field.ErrorList{field.Invalid(fldPath.Child("clientIP", "timeoutSeconds"), t,
			fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds))}
	}
	return nil
}

// validateClusterIPs validates clusterIP, clusterIPs, ipFamilies and
// ipFamilyPolicy together. clusterIPs[0] always mirrors clusterIP; defaulting
// keeps them in step.
func validateClusterIPs(s *corev1.Service) field.ErrorList {
	spec := &s.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var allErrs field.ErrorList
	ipsPath := specPath.Child("clusterIPs")
	if spec.ClusterIP != "" {
		if len(spec.ClusterIPs) == 0 {
			allErrs = append(allErrs, field.Required(ipsPath, ""))
		} else if spec.ClusterIPs[0] != spec.ClusterIP {
			allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(spec.ClusterIPs) != 0 {
		allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}

	seen := sets.New[corev1.IPFamily]()
	for i, fam := range spec.IPFamilies {
		if !supportedIPFamilies.Has(fam) {
			allErrs = append(allErrs, field.NotSupported(specPath.Child("ipFamilies").Index(i), fam, sets.List(supportedIPFamilies)))
		}
		if seen.Has(fam) {
			allErrs = append(allErrs, field.Duplicate(specPath.Child("ipFamilies").Index(i), fam))
		}
		seen.Insert(fam)
	}
	if p := spec.IPFamilyPolicy; p != nil && !supportedIPFamilyPolicies.Has(*p) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("ipFamilyPolicy"), *p, sets.List(supportedIPFamilyPolicies)))
	}

	invalid := false
	for i, ip := range spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(spec.ClusterIPs) > 1 {
				invalid = true
				allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		errs := utilvalidation.IsValidIP(ipsPath.Index(i), ip)
		invalid = invalid || len(errs) != 0
		allErrs = append(allErrs, errs...)
	}
	if spec.ClusterIP != "" && spec.ClusterIP != corev1.ClusterIPNone && len(spec.ClusterIPs) == 0 {
		allErrs = append(allErrs, utilvalidation.IsValidIP(specPath.Child("clusterIP"), spec.ClusterIP)...)
	}
	if len(spec.ClusterIPs) > 2 {
		allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	if invalid {
		return allErrs
	}
	if len(spec.ClusterIPs) > 1 {
		if dual, err := netutils.IsDualStackIPStrings(spec.ClusterIPs); err != nil || !dual {
			allErrs = append(allErrs, field.Invalid(ipsPath, spec.ClusterIPs, "may specify no more than one IP for each IP family"))
		}
	}
	if !isHeadless(s) {
		for i, ip := range spec.ClusterIPs {
			if i >= len(spec.IPFamilies) {
				break
			}
			isV6 := netutils.IsIPv6String(ip)
			if spec.IPFamilies[i] == corev1.IPv4Protocol && isV6 {
				allErrs = append(allErrs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			}
			if spec.IPFamilies[i] == corev1.IPv6Protocol && !isV6 {
				allErrs = append(allErrs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return allErrs
}

func validateTrafficPolicies(s *corev1.Service) field.ErrorList {
	spec := &s.Spec
	var allErrs field.ErrorList
	etp := specPath.Child("externalTrafficPolicy")
	switch {
	case !externallyAccessible(s) && spec.ExternalTrafficPolicy != "":
		allErrs = append(allErrs, field.Invalid(etp, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
	case externallyAccessible(s) && spec.ExternalTrafficPolicy == "":
		allErrs = append(allErrs, field.Required(etp, ""))
	case externallyAccessible(s) && !supportedExternalPolicies.Has(spec.ExternalTrafficPolicy):
		allErrs = append(allErrs, field.NotSupported(etp, spec.ExternalTrafficPolicy, sets.List(supportedExternalPolicies)))
	}

	// Only a LoadBalancer with policy Local needs a health check node port,
	// which the allocator assigns.
	hcnp := specPath.Child("healthCheckNodePort")
	needsHealthCheck := spec.Type == corev1.ServiceTypeLoadBalancer && spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if !needsHealthCheck && spec.HealthCheckNodePort != 0 {
		allErrs = append(allErrs, field.Invalid(hcnp, spec.HealthCheckNodePort,
			"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	} else if needsHealthCheck && spec.HealthCheckNodePort != 0 {
		for _, msg := range utilvalidation.IsValidPortNum(int(spec.HealthCheckNodePort)) {
			allErrs = append(allErrs, field.Invalid(hcnp, spec.HealthCheckNodePort, msg))
		}
	}

	itp := specPath.Child("internalTrafficPolicy")
	if spec.InternalTrafficPolicy == nil {
		if spec.Type == corev1.ServiceTypeClusterIP || spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer {
			allErrs = append(allErrs, field.Required(itp, ""))
		}
	} else if !supportedInternalPolicies.Has(*spec.InternalTrafficPolicy) {
		allErrs = append(allErrs, field.NotSupported(itp, *spec.InternalTrafficPolicy, sets.List(supportedInternalPolicies)))
	}

	if td := spec.TrafficDistribution; td != nil && !supportedTrafficDistributions.Has(*td) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("trafficDistribution"), *td, sets.List(supportedTrafficDistributions)))
	}
	return allErrs
}

// ValidateServiceUpdate validates an update of a service. Cluster IPs and
// the primary IP family may not change once set, except when the service
// becomes or stops being an ExternalName service. Fields the allocator owns
// (clusterIP, nodePorts, healthCheckNodePort) must be carried over from the
// old object by the registry when the request leaves them empty.
func ValidateServiceUpdate(s, old *corev1.Service) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta)
	allErrs = append(allErrs, validateClusterIPsUpdate(s, old)...)
	allErrs = append(allErrs, validateIPFamiliesUpdate(s, old)...)
	if s.Spec.Type == corev1.ServiceTypeLoadBalancer && old.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		!equalStringPtr(s.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass) {
		allErrs = append(allErrs, field.Invalid(specPath.Child("loadBalancerClass"), s.Spec.LoadBalancerClass, "may not change once set"))
	}
	return append(allErrs, ValidateService(s)...)
}

func validateClusterIPsUpdate(s, old *corev1.Service) field.ErrorList {
	if s.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	if isHeadless(s) && isHeadless(old) {
		return nil
	}
	ips, oldIPs := s.Spec.ClusterIPs, old.Spec.ClusterIPs
	ipsPath := specPath.Child("clusterIPs")
	var allErrs field.ErrorList
	switch {
	case len(oldIPs) == len(ips):
		for i := range oldIPs {
			if ips[i] != oldIPs[i] {
				allErrs = append(allErrs, field.Invalid(ipsPath.Index(i), ips, "may not change once set"))
			}
		}
	case len(oldIPs) > len(ips):
		if len(ips) == 0 {
			allErrs = append(allErrs, field.Invalid(ipsPath.Index(0), ips, "primary clusterIP can not be unset"))
		} else if ips[0] != oldIPs[0] {
			allErrs = append(allErrs, field.Invalid(ipsPath.Index(0), ips, "may not change once set"))
		}
		if len(ips) == 1 && (s.Spec.IPFamilyPolicy == nil || *s.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
			allErrs = append(allErrs, field.Invalid(specPath.Child("ipFamilyPolicy"), s.Spec.IPFamilyPolicy,
				"must be set to 'SingleStack' when releasing the secondary clusterIP"))
		}
	default: // an IP was added: only the primary must stay
		if len(oldIPs) > 0 && ips[0] != oldIPs[0] {
			allErrs = append(allErrs, field.Invalid(ipsPath.Index(0), ips, "may not change once set"))
		}
	}
	return allErrs
}

func validateIPFamiliesUpdate(s, old *corev1.Service) field.ErrorList {
	if s.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	// Headless services, and services changing to or from headless, may
	// change families freely: no IP is allocated from them.
	if isHeadless(s) || isHeadless(old) {
		return nil
	}
	fams, oldFams := s.Spec.IPFamilies, old.Spec.IPFamilies
	famPath := specPath.Child("ipFamilies")
	var allErrs field.ErrorList
	switch {
	case len(oldFams) == len(fams):
		for i := range oldFams {
			if fams[i] != oldFams[i] {
				allErrs = append(allErrs, field.Invalid(famPath.Index(i), fams, "may not change once set"))
			}
		}
	case len(oldFams) > len(fams):
		if len(fams) == 0 {
			allErrs = append(allErrs, field.Invalid(famPath.Index(0), fams, "primary ipFamily can not be unset"))
		} else if fams[0] != oldFams[0] {
			allErrs = append(allErrs, field.Invalid(famPath.Index(0), fams, "may not change once set"))
		}
		if len(fams) == 1 && (s.Spec.IPFamilyPolicy == nil || *s.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
			allErrs = append(allErrs, field.Invalid(specPath.Child("ipFamilyPolicy"), s.Spec.IPFamilyPolicy,
				"must be set to 'SingleStack' when releasing the secondary ipFamily"))
		}
	default:
		if len(oldFams) > 0 && fams[0] != oldFams[0] {
			allErrs = append(allErrs, field.Invalid(famPath.Index(0), fams, "may not change once set"))
		}
	}
	return allErrs
}

func equalStringPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
