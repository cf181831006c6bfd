// Package defaults fills in the fields of k8s.io/api v1 objects that
// kube-apiserver fills in when a request leaves them unset, so that objects
// read back from Shepherd look like objects read back from Kubernetes
// (restartPolicy Always, imagePullPolicy by tag, service targetPort = port,
// a deployment's 25%/25% rolling update, ...).
//
// The functions mutate their argument in place and follow two rules:
//
//   - They only fill what is unset. A value the user gave is never replaced;
//     the few places where kube-apiserver itself normalizes a value are noted
//     on the function (for example a namespace's kubernetes.io/metadata.name
//     label always equals its name).
//   - They are idempotent: applying a function twice gives the same object as
//     applying it once, so they are safe on create and on update.
//
// Besides kube-apiserver's defaulting proper, a few functions also do what its
// conversion or admission steps do to every object of the kind, because
// Shepherd stores v1 objects directly: Secret merges stringData into data,
// Service keeps clusterIP and clusterIPs in step, and Pod sets the priority
// and status.phase/qosClass that admission and the pod strategy set.
//
// Run defaulting before validation (package
// github.com/shepherd-lab/shepherd/api/validation), which treats fields that
// are always defaulted as required.
package defaults
