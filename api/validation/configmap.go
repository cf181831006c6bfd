package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxDataSize bounds the payload of a ConfigMap or Secret: 1 MiB, so that
// objects fit comfortably in an etcd request.
const maxDataSize = 1 << 20

const immutableDataMsg = "field is immutable when `immutable` is set"

// ValidateConfigMap validates a ConfigMap: keys are valid file names, no key
// is in both data and binaryData, and the payload is at most 1 MiB.
func ValidateConfigMap(c *corev1.ConfigMap) field.ErrorList {
	allErrs := validateObjectMeta(&c.ObjectMeta, true, nameIsDNSSubdomain)
	dataPath := field.NewPath("data")
	binaryPath := field.NewPath("binaryData")
	total := 0
	for _, key := range sets.List(sets.KeySet(c.Data)) {
		allErrs = append(allErrs, validateDataKey(key, dataPath.Key(key))...)
		if _, dup := c.BinaryData[key]; dup {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), key, "duplicate of key present in binaryData"))
		}
		total += len(c.Data[key])
	}
	for _, key := range sets.List(sets.KeySet(c.BinaryData)) {
		allErrs = append(allErrs, validateDataKey(key, binaryPath.Key(key))...)
		total += len(c.BinaryData[key])
	}
	if total > maxDataSize {
		// The path is empty: the limit is on the object as a whole.
		allErrs = append(allErrs, field.TooLong(field.NewPath(""), "", maxDataSize))
	}
	return allErrs
}

// ValidateConfigMapUpdate validates an update of a ConfigMap. Once a
// ConfigMap is immutable its data cannot change and it stays immutable.
func ValidateConfigMapUpdate(c, old *corev1.ConfigMap) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta)
	if old.Immutable != nil && *old.Immutable {
		if c.Immutable == nil || !*c.Immutable {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), immutableDataMsg))
		}
		if !stringMapsEqual(c.Data, old.Data) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), immutableDataMsg))
		}
		if !bytesMapsEqual(c.BinaryData, old.BinaryData) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("binaryData"), immutableDataMsg))
		}
	}
	return append(allErrs, ValidateConfigMap(c)...)
}

// validateDataKey: ConfigMap and Secret keys become file names in volumes
// and may hold only alphanumerics, '-', '_' and '.'.
func validateDataKey(key string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsConfigMapKey(key) {
		allErrs = append(allErrs, field.Invalid(fldPath, key, msg))
	}
	return allErrs
}

// stringMapsEqual treats nil and empty maps as equal, as they serialize the
// same.
func stringMapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		if bv, ok := b[k]; !ok || av != bv {
			return false
		}
	}
	return true
}
