package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const moreThanReplicasMsg = "cannot be greater than status.replicas"

// ValidateDeploymentStatusUpdate validates a write to deployments/status:
// counts are non-negative and consistent, and collisionCount never goes down
// (it names the next ReplicaSet, and reusing a name would adopt a stranger).
func ValidateDeploymentStatusUpdate(d, old *appsv1.Deployment) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&d.ObjectMeta, &old.ObjectMeta)
	st := &d.Status
	allErrs = append(allErrs, validateNonnegative(st.ObservedGeneration, statusPath.Child("observedGeneration"))...)
	allErrs = append(allErrs, validateReplicaCounts(st.Replicas, st.ReadyReplicas, st.AvailableReplicas)...)
	allErrs = append(allErrs, validateNonnegative(int64(st.UpdatedReplicas), statusPath.Child("updatedReplicas"))...)
	allErrs = append(allErrs, validateNonnegative(int64(st.UnavailableReplicas), statusPath.Child("unavailableReplicas"))...)
	if st.UpdatedReplicas > st.Replicas {
		allErrs = append(allErrs, field.Invalid(statusPath.Child("updatedReplicas"), st.UpdatedReplicas, moreThanReplicasMsg))
	}
	if st.CollisionCount != nil {
		allErrs = append(allErrs, validateNonnegative(int64(*st.CollisionCount), statusPath.Child("collisionCount"))...)
	}
	if old.Status.CollisionCount != nil && (st.CollisionCount == nil || *st.CollisionCount < *old.Status.CollisionCount) {
		var value int32
		if st.CollisionCount != nil {
			value = *st.CollisionCount
		}
		allErrs = append(allErrs, field.Invalid(statusPath.Child("collisionCount"), value, "cannot be decremented"))
	}
	return allErrs
}

// ValidateReplicaSetStatusUpdate validates a write to replicasets/status.
func ValidateReplicaSetStatusUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&rs.ObjectMeta, &old.ObjectMeta)
	st := &rs.Status
	allErrs = append(allErrs, validateNonnegative(st.ObservedGeneration, statusPath.Child("observedGeneration"))...)
	allErrs = append(allErrs, validateReplicaCounts(st.Replicas, st.ReadyReplicas, st.AvailableReplicas)...)
	allErrs = append(allErrs, validateNonnegative(int64(st.FullyLabeledReplicas), statusPath.Child("fullyLabeledReplicas"))...)
	if st.FullyLabeledReplicas > st.Replicas {
		allErrs = append(allErrs, field.Invalid(statusPath.Child("fullyLabeledReplicas"), st.FullyLabeledReplicas, moreThanReplicasMsg))
	}
	return allErrs
}

// validateReplicaCounts: replicas >= ready >= available >= 0.
func validateReplicaCounts(replicas, ready, available int32) field.ErrorList {
	allErrs := validateNonnegative(int64(replicas), statusPath.Child("replicas"))
	allErrs = append(allErrs, validateNonnegative(int64(ready), statusPath.Child("readyReplicas"))...)
	allErrs = append(allErrs, validateNonnegative(int64(available), statusPath.Child("availableReplicas"))...)
	if ready > replicas {
		allErrs = append(allErrs, field.Invalid(statusPath.Child("readyReplicas"), ready, moreThanReplicasMsg))
	}
	if available > replicas {
		allErrs = append(allErrs, field.Invalid(statusPath.Child("availableReplicas"), available, moreThanReplicasMsg))
	}
	if available > ready {
		allErrs = append(allErrs, field.Invalid(statusPath.Child("availableReplicas"), available, "cannot be greater than readyReplicas"))
	}
	return allErrs
}
