package validation

import (
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

var statusPath = field.NewPath("status")

var supportedPodPhases = []corev1.PodPhase{
	corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown}

var supportedConditionStatuses = []corev1.ConditionStatus{
	corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}

// systemPodConditions may be used without a domain prefix; custom readiness
// gate conditions must be qualified names.
var systemPodConditions = sets.New(corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized)

// ValidatePodStatusUpdate validates a write to pods/status. It looks at the
// metadata and the status only: the registry must keep the old spec, as a
// status update never changes it. A pod's node is set by binding, never here.
func ValidatePodStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&pod.ObjectMeta, &old.ObjectMeta)
	if pod.Spec.NodeName != old.Spec.NodeName {
		allErrs = append(allErrs, field.Forbidden(statusPath.Child("nodeName"), "may not be changed directly"))
	}
	st := &pod.Status
	if st.NominatedNodeName != "" && st.NominatedNodeName != old.Status.NominatedNodeName {
		allErrs = append(allErrs, validateName(nameIsDNSSubdomain, st.NominatedNodeName, statusPath.Child("nominatedNodeName"))...)
	}
	if st.Phase != "" && !containsValue(supportedPodPhases, st.Phase) {
		allErrs = append(allErrs, field.NotSupported(statusPath.Child("phase"), st.Phase, supportedPodPhases))
	}
	allErrs = append(allErrs, validatePodConditions(st.Conditions, statusPath.Child("conditions"))...)
	// The QoS class is fixed by the spec at creation.
	if old.Status.QOSClass != "" {
		allErrs = append(allErrs, apivalidation.ValidateImmutableField(st.QOSClass, old.Status.QOSClass, statusPath.Child("qosClass"))...)
	}

	allErrs = append(allErrs, validateContainerStateTransitions(st.ContainerStatuses, old.Status.ContainerStatuses,
		old.Spec.RestartPolicy, nil, statusPath.Child("containerStatuses"))...)
	allErrs = append(allErrs, validateContainerStateTransitions(st.InitContainerStatuses, old.Status.InitContainerStatuses,
		old.Spec.RestartPolicy, old.Spec.InitContainers, statusPath.Child("initContainerStatuses"))...)
	// The kubelet never restarts ephemeral containers.
	allErrs = append(allErrs, validateContainerStateTransitions(st.EphemeralContainerStatuses, old.Status.EphemeralContainerStatuses,
		corev1.RestartPolicyNever, nil, statusPath.Child("ephemeralContainerStatuses"))...)
	allErrs = append(allErrs, validateRestartCounts(st.ContainerStatuses, statusPath.Child("containerStatuses"))...)
	allErrs = append(allErrs, validateRestartCounts(st.InitContainerStatuses, statusPath.Child("initContainerStatuses"))...)

	allErrs = append(allErrs, validateStatusIPs(st.PodIP, podIPStrings(st.PodIPs), "podIP", "podIPs")...)
	allErrs = append(allErrs, validateStatusIPs(st.HostIP, hostIPStrings(st.HostIPs), "hostIP", "hostIPs")...)
	return allErrs
}

func validatePodConditions(conditions []corev1.PodCondition, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, c := range conditions {
		idxPath := fldPath.Index(i)
		if !systemPodConditions.Has(c.Type) {
			allErrs = append(allErrs, validateQualifiedName(string(c.Type), idxPath.Child("type"))...)
		}
		if !containsValue(supportedConditionStatuses, c.Status) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("status"), c.Status, supportedConditionStatuses))
		}
	}
	return allErrs
}

// validateContainerStateTransitions forbids a terminated container from
// coming back to life when the restart policy says it will not be restarted.
// Init containers with restartPolicy Always (sidecars) always may.
func validateContainerStateTransitions(statuses, old []corev1.ContainerStatus, policy corev1.RestartPolicy, inits []corev1.Container, fldPath *field.Path) field.ErrorList {
	if policy == corev1.RestartPolicyAlways {
		return nil
	}
	sidecars := sets.New[string]()
	for _, c := range inits {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.Insert(c.Name)
		}
	}
	var allErrs field.ErrorList
	for i, o := range old {
		if o.State.Terminated == nil || sidecars.Has(o.Name) {
			continue
		}
		if o.State.Terminated.ExitCode != 0 && policy == corev1.RestartPolicyOnFailure {
			continue
		}
		for _, s := range statuses {
			if s.Name == o.Name && s.State.Terminated == nil {
				allErrs = append(allErrs, field.Forbidden(fldPath.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return allErrs
}

func validateRestartCounts(statuses []corev1.ContainerStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, s := range statuses {
		allErrs = append(allErrs, validateNonnegative(int64(s.RestartCount), fldPath.Index(i).Child("restartCount"))...)
	}
	return allErrs
}

// validateStatusIPs validates the podIP/podIPs (or hostIP/hostIPs) pair:
// valid IPs, at most one per family, and the list starting with the single.
func validateStatusIPs(single string, list []string, singleName, listName string) field.ErrorList {
	var allErrs field.ErrorList
	listPath := statusPath.Child(listName)
	if single != "" {
		allErrs = append(allErrs, utilvalidation.IsValidIP(statusPath.Child(singleName), single)...)
	}
	if len(list) > 0 && single != "" && list[0] != single {
		allErrs = append(allErrs, field.Invalid(listPath.Index(0).Child("ip"), list[0], "must be equal to `"+singleName+"`"))
	}
	invalid := false
	for i, ip := range list {
		errs := utilvalidation.IsValidIP(listPath.Index(i), ip)
		invalid = invalid || len(errs) > 0
		allErrs = append(allErrs, errs...)
	}
	if len(list) > 1 && !invalid {
		seen := sets.New[string]()
		for i, ip := range list {
			if seen.Has(ip) {
				allErrs = append(allErrs, field.Duplicate(listPath.Index(i), ip))
			}
			seen.Insert(ip)
		}
		if dual, err := netutils.IsDualStackIPStrings(list); err != nil || !dual || len(list) > 2 {
			allErrs = append(allErrs, field.Invalid(listPath, list, "may specify no more than one IP for each IP family"))
		}
	}
	return allErrs
}

func podIPStrings(ips []corev1.PodIP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.IP)
	}
	return out
}

func hostIPStrings(ips []corev1.HostIP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.IP)
	}
	return out
}
