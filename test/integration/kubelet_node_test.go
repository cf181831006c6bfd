package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/kubelet"
	"github.com/shepherd-lab/shepherd/storage"
)

// The node agent registers its Node and heartbeats through a Lease that
// lives on an etcd lease: a clean stop revokes it at once, a dead kubelet's
// expires by itself.
func TestKubeletRegistersAndHeartbeats(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	core, coord := srv.Client.CoreV1(), srv.Client.CoordinationV1()

	// A store of its own, as a separate kubelet process would have, so
	// that closing it stands for the process dying.
	store, err := storage.Connect(ctx, srv.EtcdEndpoints, api.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := kubelet.NewNodeAgent(kubelet.NodeConfig{
		Store: store, Admission: admissiontest.Follow(t, store), Name: "worker-1", NodeIP: "192.0.2.10", RootDir: t.TempDir(),
		LeaseDuration: 4 * time.Second, Version: "v1.32.0-shepherd.test", Log: testlog.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- agent.Run(actx) }()
	wait := sync.OnceValue(func() error { return <-done })
	t.Cleanup(func() { stop(); wait(); store.Close() })

	var node *corev1.Node
	waitUntil(t, 10*time.Second, func() bool {
		node, err = core.Nodes().Get(ctx, "worker-1", metav1.GetOptions{})
		return err == nil
	})
	if node.Labels[corev1.LabelHostname] != "worker-1" || node.Labels[corev1.LabelOSStable] != "linux" || node.Labels[corev1.LabelArchStable] == "" {
		t.Errorf("labels %v", node.Labels)
	}
	st := node.Status
	if st.Capacity.Cpu().Value() < 1 || st.Capacity.Memory().Value() < 1<<20 || st.Capacity.StorageEphemeral().Value() == 0 || st.Capacity.Pods().Value() != 110 {
		t.Errorf("capacity %v", st.Capacity)
	}
	if st.Allocatable.Pods().Value() != 110 {
		t.Errorf("allocatable %v", st.Allocatable)
	}
	if len(st.Addresses) != 2 || st.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.0.2.10"}) || st.Addresses[1].Type != corev1.NodeHostName {
		t.Errorf("addresses %v", st.Addresses)
	}
	if st.NodeInfo.KernelVersion == "" || st.NodeInfo.Architecture == "" || st.NodeInfo.KubeletVersion != "v1.32.0-shepherd.test" || st.NodeInfo.ContainerRuntimeVersion != "shepherd://v1.32.0-shepherd.test" {
		t.Errorf("nodeInfo %+v", st.NodeInfo)
	}
	conds := map[corev1.NodeConditionType]corev1.ConditionStatus{}
	for _, c := range st.Conditions {
		conds[c.Type] = c.Status
	}
	for typ, want := range map[corev1.NodeConditionType]corev1.ConditionStatus{
		corev1.NodeReady: corev1.ConditionTrue, corev1.NodeMemoryPressure: corev1.ConditionFalse,
		corev1.NodeDiskPressure: corev1.ConditionFalse, corev1.NodePIDPressure: corev1.ConditionFalse,
		kubelet.ConditionCgroupLimits: corev1.ConditionFalse, // no cgroup manager given
	} {
		if conds[typ] != want {
			t.Errorf("condition %s = %q, want %q", typ, conds[typ], want)
		}
	}

	// The Lease follows the Node's registration.
	var lease *coordinationv1.Lease
	waitUntil(t, 10*time.Second, func() bool {
		lease, err = coord.Leases(corev1.NamespaceNodeLease).Get(ctx, "worker-1", metav1.GetOptions{})
		return err == nil
	})
	if *lease.Spec.HolderIdentity != "worker-1" || *lease.Spec.LeaseDurationSeconds != 4 {
		t.Fatalf("lease %+v", lease.Spec)
	}
	first := lease.Spec.RenewTime.Time
	// Renewed every quarter of the duration: renewTime moves on.
	waitUntil(t, 10*time.Second, func() bool {
		l, err := coord.Leases(corev1.NamespaceNodeLease).Get(ctx, "worker-1", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.After(first)
	})

	// The kubelet dies: its etcd client goes away without revoking.
	store.Close()
	stop()
	wait()
	waitUntil(t, 15*time.Second, func() bool {
		_, err := coord.Leases(corev1.NamespaceNodeLease).Get(ctx, "worker-1", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if _, err := core.Nodes().Get(ctx, "worker-1", metav1.GetOptions{}); err != nil {
		t.Fatalf("the Node should stay after its kubelet dies: %v", err)
	}

	// A new kubelet for the same node takes the Node over and stops
	// cleanly: its lease goes at once.
	store2, err := storage.Connect(ctx, srv.EtcdEndpoints, api.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	defer store2.Close()
	agent2, _ := kubelet.NewNodeAgent(kubelet.NodeConfig{Store: store2, Admission: admissiontest.Follow(t, store2), Name: "worker-1", RootDir: t.TempDir(), LeaseDuration: 30 * time.Second, Version: "v2"})
	ctx2, stop2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() { done2 <- agent2.Run(ctx2) }()
	waitUntil(t, 10*time.Second, func() bool {
		n, err := core.Nodes().Get(ctx, "worker-1", metav1.GetOptions{})
		_, lerr := coord.Leases(corev1.NamespaceNodeLease).Get(ctx, "worker-1", metav1.GetOptions{})
		return err == nil && n.Status.NodeInfo.KubeletVersion == "v2" && lerr == nil
	})
	stop2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	if _, err := coord.Leases(corev1.NamespaceNodeLease).Get(ctx, "worker-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("lease after a clean stop: %v, want gone at once", err)
	}
}

func waitUntil(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
