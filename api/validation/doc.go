// Package validation checks Kubernetes API objects (the k8s.io/api v1 types)
// the way kube-apiserver does, and reports problems as a field.ErrorList whose
// paths, error types and details match what a kube-apiserver would say, so that
// kubectl and client-go users see familiar messages such as
//
//	spec.containers[0].image: Required value
//	spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"
//
// Every function is pure: it never mutates its arguments and does no I/O.
//
// Validation expects objects that have already been defaulted (see package
// github.com/shepherd-lab/shepherd/api/defaults). Fields that defaulting always
// fills (a container port's protocol, a pod's restartPolicy, a service's
// sessionAffinity, ...) are reported as "Required value" when they are empty,
// exactly as kube-apiserver reports a request that somehow skipped defaulting.
//
// There is one Validate function per resource for create, and one ...Update
// function per resource that takes the new and the old object. An update
// function applies the ObjectMeta update rules (immutable name, namespace, uid,
// creationTimestamp; a resourceVersion is required) plus the resource's own
// rules. Registries should copy the fields a request may not touch (for
// example status on a spec update, or spec on a status update) from the old
// object before calling them, as kube-apiserver's strategies do.
package validation
