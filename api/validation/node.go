package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// ValidateNode validates a node being registered.
func ValidateNode(n *corev1.Node) field.ErrorList {
	allErrs := validateObjectMeta(&n.ObjectMeta, false, nameIsDNSSubdomain)
	allErrs = append(allErrs, validateNodeTaints(n.Spec.Taints, specPath.Child("taints"))...)
	allErrs = append(allErrs, validateNodeResources(n)...)
	allErrs = append(allErrs, validatePodCIDRs(&n.Spec)...)
	return allErrs
}

// ValidateNodeUpdate validates an update of a node (spec or status). A pod
// CIDR and a provider ID may be set once, never changed.
func ValidateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&n.ObjectMeta, &old.ObjectMeta)
	allErrs = append(allErrs, validateNodeResources(n)...)
	addresses := make(map[corev1.NodeAddress]bool, len(n.Status.Addresses))
	for i, a := range n.Status.Addresses {
		if addresses[a] {
			allErrs = append(allErrs, field.Duplicate(statusPath.Child("addresses").Index(i), a))
		}
		addresses[a] = true
	}
	allErrs = append(allErrs, validatePodCIDRs(&n.Spec)...)
	if oldCIDRs := podCIDRList(&old.Spec); len(oldCIDRs) > 0 {
		cidrs := podCIDRList(&n.Spec)
		changed := len(cidrs) != len(oldCIDRs)
		for i := 0; !changed && i < len(cidrs); i++ {
			changed = cidrs[i] != oldCIDRs[i]
		}
		if changed {
			allErrs = append(allErrs, field.Forbidden(specPath.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
		}
	}
	if old.Spec.ProviderID != "" && n.Spec.ProviderID != old.Spec.ProviderID {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("externalID"), "may not be updated"))
	}
	allErrs = append(allErrs, validateNodeTaints(n.Spec.Taints, specPath.Child("taints"))...)
	return allErrs
}

// validateNodeTaints: keys are label names, values label values, effects
// known, and one taint per key and effect.
func validateNodeTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, metav1validation.ValidateLabelName(t.Key, idxPath.Child("key"))...)
		if errs := utilvalidation.IsValidLabelValue(t.Value); len(errs) != 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("value"), t.Value, strings.Join(errs, ";")))
		}
		allErrs = append(allErrs, validateTaintEffect(t.Effect, false, idxPath.Child("effect"))...)
		if seen[t.Effect].Has(t.Key) {
			dup := field.Duplicate(idxPath, t)
			dup.Detail = "taints must be unique by key and effect pair"
			allErrs = append(allErrs, dup)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = sets.New[string]()
		}
		seen[t.Effect].Insert(t.Key)
	}
	return allErrs
}

func validateNodeResources(n *corev1.Node) field.ErrorList {
	var allErrs field.ErrorList
	for _, name := range sortedResourceNames(n.Status.Capacity) {
		allErrs = append(allErrs, validateResourceQuantity(name, n.Status.Capacity[name], field.NewPath("status", "capacity", string(name)))...)
	}
	for _, name := range sortedResourceNames(n.Status.Allocatable) {
		allErrs = append(allErrs, validateResourceQuantity(name, n.Status.Allocatable[name], field.NewPath("status", "allocatable", string(name)))...)
	}
	return allErrs
}

// podCIDRList is the node's pod CIDRs. podCIDR is the older single-valued
// field; when podCIDRs is set it wins, as in kube-apiserver's conversion.
func podCIDRList(spec *corev1.NodeSpec) []string {
	if len(spec.PodCIDRs) > 0 {
		return spec.PodCIDRs
	}
	if spec.PodCIDR != "" {
		return []string{spec.PodCIDR}
	}
	return nil
}

func validatePodCIDRs(spec *corev1.NodeSpec) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.PodCIDRs) == 0 {
		if spec.PodCIDR != "" {
			allErrs = append(allErrs, utilvalidation.IsValidCIDR(specPath.Child("podCIDR"), spec.PodCIDR)...)
		}
		return allErrs
	}
	cidrsPath := specPath.Child("podCIDRs")
	if spec.PodCIDR != "" && spec.PodCIDR != spec.PodCIDRs[0] {
		allErrs = append(allErrs, field.Invalid(specPath.Child("podCIDR"), spec.PodCIDR, "must match `podCIDRs[0]`"))
	}
	invalid := false
	for i, c := range spec.PodCIDRs {
		errs := utilvalidation.IsValidCIDR(cidrsPath.Index(i), c)
		invalid = invalid || len(errs) > 0
		allErrs = append(allErrs, errs...)
	}
	if len(spec.PodCIDRs) > 1 && !invalid {
		if dual, err := netutils.IsDualStackCIDRStrings(spec.PodCIDRs); err != nil || !dual || len(spec.PodCIDRs) > 2 {
			allErrs = append(allErrs, field.Invalid(cidrsPath, spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
		seen := sets.New[string]()
		for i, c := range spec.PodCIDRs {
			if seen.Has(c) {
				allErrs = append(allErrs, field.Duplicate(cidrsPath.Index(i), c))
			}
			seen.Insert(c)
		}
	}
	return allErrs
}
