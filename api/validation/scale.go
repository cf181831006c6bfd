package validation

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateScale validates a write to a scale subresource.
func ValidateScale(s *autoscalingv1.Scale) field.ErrorList {
	allErrs := validateObjectMeta(&s.ObjectMeta, true, nameIsDNSSubdomain)
	if s.Spec.Replicas < 0 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("replicas"), s.Spec.Replicas, "must be greater than or equal to 0"))
	}
	return allErrs
}
