package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits of the fields of an event that carries eventTime (a
// "new-style" event, as events.k8s.io/v1 clients write them).
const (
	eventReportingInstanceMaxLen = 128
	eventActionMaxLen            = 128
	eventReasonMaxLen            = 128
	eventNoteMaxLen              = 1024
)

var supportedEventTypes = []string{corev1.EventTypeNormal, corev1.EventTypeWarning}

// ValidateEvent validates a core/v1 Event.
//
// Old-style events (no eventTime, as client-go's record package writes them)
// are checked loosely, as kube-apiserver does, because every kubelet and
// controller in the wild writes them: the involved object must live in the
// event's namespace (cluster-scoped objects' events go to "default" or to no
// namespace). Events with eventTime also need reportingController,
// reportingInstance, action and reason, within length limits.
func ValidateEvent(e *corev1.Event) field.ErrorList {
	allErrs := validateObjectMeta(&e.ObjectMeta, true, nameIsDNSSubdomain)
	involvedNS := field.NewPath("involvedObject", "namespace")
	if e.EventTime.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				allErrs = append(allErrs, field.Invalid(involvedNS, e.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			allErrs = append(allErrs, field.Invalid(involvedNS, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	} else {
		if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			allErrs = append(allErrs, field.Invalid(involvedNS, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
		if e.ReportingController == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("reportingController"), ""))
		} else {
			allErrs = append(allErrs, validateQualifiedName(e.ReportingController, field.NewPath("reportingController"))...)
		}
		allErrs = append(allErrs, requiredMaxLen(e.ReportingInstance, eventReportingInstanceMaxLen, field.NewPath("reportingInstance"))...)
		allErrs = append(allErrs, requiredMaxLen(e.Action, eventActionMaxLen, field.NewPath("action"))...)
		allErrs = append(allErrs, requiredMaxLen(e.Reason, eventReasonMaxLen, field.NewPath("reason"))...)
		if len(e.Message) > eventNoteMaxLen {
			allErrs = append(allErrs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", eventNoteMaxLen)))
		}
	}
	if e.Type != "" && !containsValue(supportedEventTypes, e.Type) {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("type"), e.Type, supportedEventTypes))
	}
	return allErrs
}

func requiredMaxLen(value string, maxLen int, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if len(value) > maxLen {
		return field.ErrorList{field.Invalid(fldPath, "", fmt.Sprintf("can have at most %v characters", maxLen))}
	}
	return nil
}
