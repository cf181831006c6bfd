package validation

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// updatablePodSpecFields is quoted in the error for a forbidden pod update,
// word for word as kube-apiserver says it, because users search for it.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// maxDiffLines bounds the field list appended to a forbidden-update error.
const maxDiffLines = 20

// ValidatePodUpdate validates an update of a pod (not of its status). A
// pod's spec is immutable except for container images, a shorter
// activeDeadlineSeconds, added tolerations, removed scheduling gates and a
// negative terminationGracePeriodSeconds set to 1. spec.nodeName is set by
// the binding subresource only, so an update may not change it.
func ValidatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&pod.ObjectMeta, &old.ObjectMeta)
	allErrs = append(allErrs, validatePodMetadataAndSpec(pod)...)

	errs, stop := validateContainerUpdates(pod.Spec.Containers, old.Spec.Containers, specPath.Child("containers"))
	allErrs = append(allErrs, errs...)
	if stop {
		return allErrs
	}
	errs, stop = validateContainerUpdates(pod.Spec.InitContainers, old.Spec.InitContainers, specPath.Child("initContainers"))
	allErrs = append(allErrs, errs...)
	if stop {
		return allErrs
	}

	// activeDeadlineSeconds may be set, or lowered, never raised or removed.
	adsPath := specPath.Child("activeDeadlineSeconds")
	if ads := pod.Spec.ActiveDeadlineSeconds; ads != nil {
		if *ads < 0 || *ads > math.MaxInt32 {
			return append(allErrs, field.Invalid(adsPath, *ads, utilvalidation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if oldADS := old.Spec.ActiveDeadlineSeconds; oldADS != nil && *oldADS < *ads {
			return append(allErrs, field.Invalid(adsPath, *ads, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Invalid(adsPath, pod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}

	allErrs = append(allErrs, validateOnlyAddedTolerations(pod.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	allErrs = append(allErrs, validateOnlyDeletedSchedulingGates(pod.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	if apiequality.Semantic.DeepEqual(pod.Spec, old.Spec) {
		return allErrs
	}
	// Undo the changes that are allowed; whatever still differs is not.
	munged := pod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.Tolerations = old.Spec.Tolerations
	munged.SchedulingGates = old.Spec.SchedulingGates
	// terminationGracePeriodSeconds is immutable but for correcting a
	// negative value to 1.
	if g, og := pod.Spec.TerminationGracePeriodSeconds, old.Spec.TerminationGracePeriodSeconds; g != nil && *g == 1 && og != nil && *og < 0 {
		munged.TerminationGracePeriodSeconds = og
	}
	if !apiequality.Semantic.DeepEqual(*munged, old.Spec) {
		detail := fmt.Sprintf("pod updates may not change fields other than %s\n%s",
			strings.Join(updatablePodSpecFields, ","), describeDiff(old.Spec, *munged, "spec"))
		allErrs = append(allErrs, field.Forbidden(specPath, detail))
	}
	return allErrs
}

// validateContainerUpdates checks the container list of an update. stop is
// true when the lists differ in length, which makes further comparison moot.
// The images themselves were already checked with the rest of the new spec.
func validateContainerUpdates(containers, old []corev1.Container, fldPath *field.Path) (field.ErrorList, bool) {
	if len(containers) != len(old) {
		return field.ErrorList{field.Forbidden(fldPath, "pod updates may not add or remove containers")}, true
	}
	return nil, false
}

// validateOnlyAddedTolerations allows new tolerations and a changed
// tolerationSeconds, but no change or removal of an existing toleration.
func validateOnlyAddedTolerations(tolerations, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range tolerations {
			candidate := o
			candidate.TolerationSeconds = t.TolerationSeconds
			if reflect.DeepEqual(candidate, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return validateTolerations(tolerations, fldPath)
}

// validateOnlyDeletedSchedulingGates: gates are removed as a pod becomes
// schedulable; none may be added after creation.
func validateOnlyDeletedSchedulingGates(gates, old []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	oldNames := make(map[string]bool, len(old))
	for _, g := range old {
		oldNames[g.Name] = true
	}
	var allErrs field.ErrorList
	for i, g := range gates {
		if !oldNames[g.Name] {
			allErrs = append(allErrs, field.Forbidden(fldPath.Index(i).Child("name"),
				fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return allErrs
}

// describeDiff lists the JSON fields that differ between two values, one per
// line ("  spec.containers[0].ports[0].containerPort: 80 -> 8080"), so that a
// user learns which change was refused.
func describeDiff(old, cur any, root string) string {
	var lines []string
	diffJSON(toJSONValue(old), toJSONValue(cur), root, &lines)
	if len(lines) > maxDiffLines {
		lines = append(lines[:maxDiffLines], fmt.Sprintf("  ... and %d more", len(lines)-maxDiffLines))
	}
	return strings.Join(lines, "\n")
}

func toJSONValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return string(b)
	}
	return out
}

func diffJSON(a, b any, at string, lines *[]string) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := make(map[string]bool, len(av)+len(bv))
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			diffJSON(av[k], bv[k], at+"."+k, lines)
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			break
		}
		for i := range av {
			diffJSON(av[i], bv[i], fmt.Sprintf("%s[%d]", at, i), lines)
		}
		return
	}
	if reflect.DeepEqual(a, b) {
		return
	}
	*lines = append(*lines, fmt.Sprintf("  %s: %s -> %s", at, compactJSON(a), compactJSON(b)))
}

func compactJSON(v any) string {
	if v == nil {
		return "<unset>"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	const maxLen = 120
	if len(b) > maxLen {
		return string(b[:maxLen]) + "..."
	}
	return string(b)
}
