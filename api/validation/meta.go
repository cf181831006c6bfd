package validation

import (
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// metadataPath is the root of every ObjectMeta error.
var metadataPath = field.NewPath("metadata")

// Name rules per kind, as kube-apiserver applies them. Services use DNS-1035
// labels because their names become DNS labels and environment variable names.
var (
	nameIsDNSSubdomain = apivalidation.NameIsDNSSubdomain
	nameIsDNSLabel     = apivalidation.NameIsDNSLabel
	nameIsDNS1035Label = apivalidation.NameIsDNS1035Label
)

// standardFinalizers may be used without a domain prefix.
var standardFinalizers = map[string]bool{
	"kubernetes":                     true,
	metav1.FinalizerOrphanDependents: true,
	metav1.FinalizerDeleteDependents: true,
}

// validateObjectMeta validates the metadata of an object being created:
// name (with nameFn), generateName, namespace (required when namespaced,
// forbidden otherwise), labels, annotations, ownerReferences and finalizers.
func validateObjectMeta(meta *metav1.ObjectMeta, namespaced bool, nameFn apivalidation.ValidateNameFunc) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(meta, namespaced, nameFn, metadataPath)
	allErrs = append(allErrs, validateKubeFinalizers(meta.Finalizers, metadataPath.Child("finalizers"))...)
	return allErrs
}

// validateObjectMetaUpdate validates an update of metadata: name, namespace,
// uid, creationTimestamp, deletionTimestamp and deletionGracePeriodSeconds are
// immutable, resourceVersion must be given, generation may not decrease, and
// no finalizer may be added once deletion has started.
func validateObjectMetaUpdate(newMeta, oldMeta *metav1.ObjectMeta) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(newMeta, oldMeta, metadataPath)
	allErrs = append(allErrs, validateKubeFinalizers(newMeta.Finalizers, metadataPath.Child("finalizers"))...)
	return allErrs
}

// validateKubeFinalizers reports finalizers that are neither one of the
// built-in names nor domain-qualified ("example.com/cleanup").
func validateKubeFinalizers(finalizers []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, f := range finalizers {
		allErrs = append(allErrs, validateKubeFinalizerName(f, fldPath.Index(i))...)
	}
	return allErrs
}

func validateKubeFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	if !strings.Contains(name, "/") && !standardFinalizers[name] {
		return field.ErrorList{field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified")}
	}
	return nil
}

// validateDNS1123Label reports value unless it is an RFC 1123 label.
func validateDNS1123Label(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateDNS1123Subdomain reports value unless it is an RFC 1123 subdomain.
func validateDNS1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateQualifiedName reports value unless it is a qualified name
// (an optional DNS subdomain prefix and "/", then a name of at most 63 chars).
func validateQualifiedName(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateName reports value when nameFn rejects it.
func validateName(nameFn apivalidation.ValidateNameFunc, value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range nameFn(value, false) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateNonnegative reports a negative value with kube-apiserver's message.
func validateNonnegative(value int64, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(value, fldPath)
}

// containsValue reports whether v is one of values.
func containsValue[T comparable](values []T, v T) bool {
	for _, x := range values {
		if x == v {
			return true
		}
	}
	return false
}
