package validation

import (
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateNamespace validates a namespace being created. Namespaces are
// cluster-scoped and named by DNS-1123 labels.
func ValidateNamespace(ns *corev1.Namespace) field.ErrorList {
	allErrs := validateObjectMeta(&ns.ObjectMeta, false, nameIsDNSLabel)
	return append(allErrs, validateNamespaceFinalizers(ns.Spec.Finalizers)...)
}

// ValidateNamespaceUpdate validates an update of a namespace: the metadata
// rules, and well-formed spec.finalizers (which change through the finalize
// subresource; a plain update keeps the old spec and status).
func ValidateNamespaceUpdate(ns, old *corev1.Namespace) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ns.ObjectMeta, &old.ObjectMeta)
	return append(allErrs, validateNamespaceFinalizers(ns.Spec.Finalizers)...)
}

func validateNamespaceFinalizers(finalizers []corev1.FinalizerName) field.ErrorList {
	var allErrs field.ErrorList
	fldPath := field.NewPath("spec", "finalizers")
	for i, f := range finalizers {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, apivalidation.ValidateFinalizerName(string(f), idxPath)...)
		allErrs = append(allErrs, validateKubeFinalizerName(string(f), idxPath)...)
	}
	return allErrs
}
