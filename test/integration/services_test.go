package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/apiserver"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

func service(name string, typ corev1.ServiceType) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}},
		},
	}
}

func TestServiceAllocationIsUniqueUnderConcurrency(t *testing.T) {
	// The node port range has 28 ports: 14 NodePort services with two
	// ports each take all of them, so concurrent creates must collide and
	// recover, and a 15th service cannot fit.
	srv := apiservertest.Start(t, func(o *apiserver.Options) {
		o.ServiceClusterIPRange = "10.96.0.0/27"
		o.ServiceNodePortRange = "30000-30027"
	})
	ctx := testCtx(t)
	svcs := srv.Client.CoreV1().Services("default")
	const n = 14
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svcs.Create(ctx, service(fmt.Sprintf("s%02d", i), corev1.ServiceTypeNodePort), metav1.CreateOptions{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	list, err := svcs.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ips, ports := map[string]string{}, map[int32]string{}
	for _, s := range list.Items {
		if other, dup := ips[s.Spec.ClusterIP]; dup {
			t.Fatalf("%s and %s share cluster IP %s", s.Name, other, s.Spec.ClusterIP)
		}
		ips[s.Spec.ClusterIP] = s.Name
		if s.Spec.ClusterIP == "10.96.0.0" || s.Spec.ClusterIP == "10.96.0.1" || s.Spec.ClusterIP == "10.96.0.31" {
			t.Fatalf("%s got reserved address %s", s.Name, s.Spec.ClusterIP)
		}
		for _, p := range s.Spec.Ports {
			if p.NodePort < 30000 || p.NodePort > 30027 {
				t.Fatalf("%s got node port %d outside the range", s.Name, p.NodePort)
			}
			if other, dup := ports[p.NodePort]; dup {
				t.Fatalf("%s and %s share node port %d", s.Name, other, p.NodePort)
			}
			ports[p.NodePort] = s.Name
		}
	}

	// Taken values are refused with the field named.
	taken := service("taken", corev1.ServiceTypeClusterIP)
	taken.Spec.ClusterIP = list.Items[0].Spec.ClusterIP
	_, err = svcs.Create(ctx, taken, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !hasCause(err, "spec.clusterIPs[0]") {
		t.Fatalf("create with a taken cluster IP: %v", err)
	}
	outside := service("outside", corev1.ServiceTypeClusterIP)
	outside.Spec.ClusterIP = "10.200.0.5"
	if _, err = svcs.Create(ctx, outside, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !hasCause(err, "spec.clusterIPs[0]") {
		t.Fatalf("create with a cluster IP outside the range: %v", err)
	}

	// Deleting releases: with every port used, delete half and create as
	// many again.
	for i := range n / 2 {
		if err := svcs.Delete(ctx, fmt.Sprintf("s%02d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n / 2 {
		if _, err := svcs.Create(ctx, service(fmt.Sprintf("again%02d", i), corev1.ServiceTypeNodePort), metav1.CreateOptions{}); err != nil {
			t.Fatalf("create after deletes released their values: %v", err)
		}
	}
	// The range is now full.
	_, err = svcs.Create(ctx, service("one-too-many", corev1.ServiceTypeNodePort), metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "failed to allocate a nodePort: range 30000-30027 is full") {
		t.Fatalf("a 15th two-port NodePort service in 28 node ports: %v", err)
	}
}

func TestServiceUpdateKeepsAllocations(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	svcs := srv.Client.CoreV1().Services("default")
	s, err := svcs.Create(ctx, service("web", corev1.ServiceTypeNodePort), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A PUT of the manifest as written (no clusterIP, no nodePorts) keeps
	// what was allocated.
	replacement := service("web", corev1.ServiceTypeNodePort)
	replacement.ResourceVersion = s.ResourceVersion
	replacement.Labels = map[string]string{"v": "2"}
	got, err := svcs.Update(ctx, replacement, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.ClusterIP != s.Spec.ClusterIP || got.Spec.Ports[0].NodePort != s.Spec.Ports[0].NodePort {
		t.Fatalf("update moved the service from %s:%d to %s:%d", s.Spec.ClusterIP, s.Spec.Ports[0].NodePort, got.Spec.ClusterIP, got.Spec.Ports[0].NodePort)
	}
	// Switching to ClusterIP drops the node ports, and frees them.
	got, err = svcs.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"type":"ClusterIP"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Ports[0].NodePort != 0 {
		t.Fatalf("ClusterIP service kept node port %d", got.Spec.Ports[0].NodePort)
	}
	again := service("again", corev1.ServiceTypeNodePort)
	again.Spec.Ports[0].NodePort = s.Spec.Ports[0].NodePort
	if _, err := svcs.Create(ctx, again, metav1.CreateOptions{}); err != nil {
		t.Fatalf("reuse of a freed node port: %v", err)
	}
	// The cluster IP is immutable.
	if _, err := svcs.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"clusterIP":"10.96.9.9","clusterIPs":["10.96.9.9"]}}`), metav1.PatchOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("changing the cluster IP: %v, want 422", err)
	}
}

// hasCause reports whether a 422 names field among its causes.
func hasCause(err error, field string) bool {
	st, ok := err.(apierrors.APIStatus)
	if !ok || st.Status().Details == nil {
		return false
	}
	for _, c := range st.Status().Details.Causes {
		if c.Field == field {
			return true
		}
	}
	return false
}
