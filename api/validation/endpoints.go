package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// ValidateEndpoints validates an Endpoints object.
func ValidateEndpoints(e *corev1.Endpoints) field.ErrorList {
	allErrs := validateObjectMeta(&e.ObjectMeta, true, nameIsDNSSubdomain)
	subsetsPath := field.NewPath("subsets")
	for i := range e.Subsets {
		ss := &e.Subsets[i]
		idxPath := subsetsPath.Index(i)
		// A subset of a headless service may have no ports, but it must
		// have somewhere to send traffic.
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			allErrs = append(allErrs, field.Required(idxPath, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			allErrs = append(allErrs, validateEndpointAddress(&ss.Addresses[j], idxPath.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			allErrs = append(allErrs, validateEndpointAddress(&ss.NotReadyAddresses[j], idxPath.Child("notReadyAddresses").Index(j))...)
		}
		names := sets.New[string]()
		for j := range ss.Ports {
			allErrs = append(allErrs, validateEndpointPort(&ss.Ports[j], len(ss.Ports) > 1, names, idxPath.Child("ports").Index(j))...)
		}
	}
	return allErrs
}

// ValidateEndpointsUpdate validates an update of an Endpoints object.
func ValidateEndpointsUpdate(e, old *corev1.Endpoints) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&e.ObjectMeta, &old.ObjectMeta)
	return append(allErrs, ValidateEndpoints(e)...)
}

func validateEndpointAddress(a *corev1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	ipPath := fldPath.Child("ip")
	allErrs := utilvalidation.IsValidIP(ipPath, a.IP)
	if len(allErrs) == 0 {
		allErrs = append(allErrs, validateNonSpecialIP(a.IP, ipPath)...)
	}
	if a.Hostname != "" {
		allErrs = append(allErrs, validateDNS1123Label(a.Hostname, fldPath.Child("hostname"))...)
	}
	if a.NodeName != nil {
		allErrs = append(allErrs, validateName(nameIsDNSSubdomain, *a.NodeName, fldPath.Child("nodeName"))...)
	}
	return allErrs
}

func validateEndpointPort(p *corev1.EndpointPort, requireName bool, names sets.Set[string], fldPath *field.Path) field.ErrorList {
	return validatePort(p.Name, p.Port, p.Protocol, p.AppProtocol, requireName, names, fldPath)
}

// validatePort checks what a service port and an endpoint port share: a
// DNS-1123 label name, required and unique when there are several ports, a
// port number, a protocol and an optional app protocol.
func validatePort(name string, port int32, protocol corev1.Protocol, appProtocol *string, requireName bool, names sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if requireName && name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else if name != "" {
		allErrs = append(allErrs, validateDNS1123Label(name, fldPath.Child("name"))...)
		if names.Has(name) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Child("name"), name))
		}
		names.Insert(name)
	}
	for _, msg := range utilvalidation.IsValidPortNum(int(port)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("port"), port, msg))
	}
	allErrs = append(allErrs, validateProtocol(protocol, fldPath.Child("protocol"))...)
	if appProtocol != nil {
		allErrs = append(allErrs, validateQualifiedName(*appProtocol, fldPath.Child("appProtocol"))...)
	}
	return allErrs
}

// validateNonSpecialIP rejects addresses that cannot be a service backend or
// an external IP: unspecified, loopback and link-local ones (the last are
// used by nodes themselves, e.g. for a metadata service).
func validateNonSpecialIP(ip string, fldPath *field.Path) field.ErrorList {
	parsed := netutils.ParseIPSloppy(ip)
	if parsed == nil {
		return field.ErrorList{field.Invalid(fldPath, ip, "must be a valid IP address")}
	}
	var allErrs field.ErrorList
	if parsed.IsUnspecified() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, fmt.Sprintf("may not be unspecified (%v)", ip)))
	}
	if parsed.IsLoopback() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if parsed.IsLinkLocalUnicast() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if parsed.IsLinkLocalMulticast() {
		allErrs = append(allErrs, field.Invalid(fldPath, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return allErrs
}
