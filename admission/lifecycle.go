package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/api"
)

// immortalNamespaces may never be deleted, as in Kubernetes.
var immortalNamespaces = map[string]bool{
	metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true,
}

// namespaceLifecycle is Kubernetes' NamespaceLifecycle plugin: an object
// may be created or updated only in a namespace that exists (404
// otherwise), and created only in one that is not terminating (403 with a
// NamespaceTerminating cause), whatever the resource (events included) and
// whoever writes it; deletes always pass, but for the namespaces every
// cluster keeps.
func namespaceLifecycle(ctx context.Context, c Cluster, a *Attributes) error {
	if a.Resource == api.Namespaces {
		if a.Operation == Delete && immortalNamespaces[a.Name] {
			return a.forbidden(fmt.Errorf("this namespace may not be deleted"))
		}
		return nil
	}
	if a.Namespace == "" || a.Operation == Delete {
		return nil
	}
	ns, err := c.Namespace(ctx, a.Namespace)
	if err != nil {
		return err
	}
	if a.Operation != Create || !terminating(ns) {
		return nil
	}
	refusal := a.forbidden(fmt.Errorf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
	refusal.ErrStatus.Details.Causes = append(refusal.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    corev1.NamespaceTerminatingCause,
		Message: fmt.Sprintf("namespace %s is being terminated", a.Namespace),
		Field:   "metadata.namespace",
	})
	return refusal
}

func terminating(ns *corev1.Namespace) bool {
	return ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil
}
