package apiservertest

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// RegisterNode does through the API what a kubelet does to join: creates
// node, sets its status to Ready with the given allocatable (and capacity),
// and creates its heartbeat Lease in kube-node-lease (valid for an hour), so
// a scheduler considers it.
func RegisterNode(ctx context.Context, c kubernetes.Interface, node *corev1.Node, allocatable corev1.ResourceList) error {
	n, err := c.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	n.Status = corev1.NodeStatus{
		Capacity: allocatable, Allocatable: allocatable,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}},
	}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		return err
	}
	now := metav1.NewMicroTime(time.Now())
	_, err = c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(n.Name), LeaseDurationSeconds: ptr.To(int32(3600)), RenewTime: &now},
	}, metav1.CreateOptions{})
	return err
}
