package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

// resourceCase is one served resource with a valid object of it.
type resourceCase struct {
	gvr        schema.GroupVersionResource
	namespaced bool
	hasStatus  bool
	object     func(name string) map[string]any
	// statusPatch changes something in the status, for resources with one.
	statusPatch string
}

var podSpec = map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox"}}}

var resourceCases = []resourceCase{
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, true, true, func(n string) map[string]any {
		return obj("v1", "Pod", n, map[string]any{"spec": podSpec})
	}, `{"status":{"message":"checked"}}`},
	{schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, false, true, func(n string) map[string]any {
		return obj("v1", "Node", n, nil)
	}, `{"status":{"capacity":{"pods":"110"}}}`},
	{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, false, true, func(n string) map[string]any {
		return obj("v1", "Namespace", n, nil)
	}, `{"status":{"conditions":[{"type":"NamespaceDeletionDiscoveryFailure","status":"False"}]}}`},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, true, true, func(n string) map[string]any {
		return obj("v1", "Service", n, map[string]any{"spec": map[string]any{
			"selector": map[string]any{"app": n}, "ports": []any{map[string]any{"port": int64(80)}}}})
	}, `{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"}]}}}`},
	{schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, true, false, func(n string) map[string]any {
		return obj("v1", "Endpoints", n, map[string]any{"subsets": []any{map[string]any{
			"addresses": []any{map[string]any{"ip": "10.244.0.5"}}, "ports": []any{map[string]any{"port": int64(80)}}}}})
	}, ""},
	{schema.GroupVersionResource{Version: "v1", Resource: "events"}, true, false, func(n string) map[string]any {
		return obj("v1", "Event", n, map[string]any{
			"involvedObject": map[string]any{"kind": "Pod", "name": "p", "namespace": "default"},
			"reason":         "Tested", "message": "a test event", "type": "Normal"})
	}, ""},
	{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true, false, func(n string) map[string]any {
		return obj("v1", "ConfigMap", n, map[string]any{"data": map[string]any{"k": "v"}})
	}, ""},
	{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, true, false, func(n string) map[string]any {
		return obj("v1", "Secret", n, map[string]any{"stringData": map[string]any{"password": "s3cret"}})
	}, ""},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, true, true, func(n string) map[string]any {
		return obj("apps/v1", "Deployment", n, map[string]any{"spec": workloadSpec(n)})
	}, `{"status":{"observedGeneration":1}}`},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, true, true, func(n string) map[string]any {
		return obj("apps/v1", "ReplicaSet", n, map[string]any{"spec": workloadSpec(n)})
	}, `{"status":{"observedGeneration":1}}`},
	{schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, true, false, func(n string) map[string]any {
		return obj("coordination.k8s.io/v1", "Lease", n, map[string]any{"spec": map[string]any{"holderIdentity": "me", "leaseDurationSeconds": int64(15)}})
	}, ""},
}

func obj(apiVersion, kind, name string, fields map[string]any) map[string]any {
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name, "labels": map[string]any{"test": "crud"}}}
	for k, v := range fields {
		o[k] = v
	}
	return o
}

func workloadSpec(app string) map[string]any {
	return map[string]any{
		"replicas": int64(2),
		"selector": map[string]any{"matchLabels": map[string]any{"app": app}},
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": app}},
			"spec":     podSpec,
		},
	}
}

// TestCRUDEveryResource runs create, get, list, update, patch, status
// update, watch, delete and deletecollection on every served resource
// through client-go's dynamic client.
func TestCRUDEveryResource(t *testing.T) {
	srv := apiservertest.Start(t)
	dyn, err := dynamic.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range resourceCases {
		t.Run(rc.gvr.Resource, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var client dynamic.ResourceInterface = dyn.Resource(rc.gvr)
			if rc.namespaced {
				client = dyn.Resource(rc.gvr).Namespace("default")
			}
			w, err := client.Watch(ctx, metav1.ListOptions{LabelSelector: "test=crud"})
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			defer w.Stop()

			created, err := client.Create(ctx, &unstructured.Unstructured{Object: rc.object("crud-a")}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if created.GetUID() == "" || created.GetResourceVersion() == "" || created.GetCreationTimestamp().Time.IsZero() {
				t.Fatalf("created object lacks server metadata: uid %q rv %q", created.GetUID(), created.GetResourceVersion())
			}
			if _, err := client.Create(ctx, &unstructured.Unstructured{Object: rc.object("crud-a")}, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
				t.Fatalf("second create: %v, want AlreadyExists", err)
			}
			got, err := client.Get(ctx, "crud-a", metav1.GetOptions{})
			if err != nil || got.GetUID() != created.GetUID() {
				t.Fatalf("get: %v (uid %s, want %s)", err, got.GetUID(), created.GetUID())
			}

			got.SetAnnotations(map[string]string{"updated": "yes"})
			updated, err := client.Update(ctx, got, metav1.UpdateOptions{})
			if err != nil || updated.GetAnnotations()["updated"] != "yes" {
				t.Fatalf("update: %v", err)
			}
			patched, err := client.Patch(ctx, "crud-a", types.MergePatchType, []byte(`{"metadata":{"labels":{"patched":"yes"}}}`), metav1.PatchOptions{})
			if err != nil || patched.GetLabels()["patched"] != "yes" || patched.GetAnnotations()["updated"] != "yes" {
				t.Fatalf("patch: %v, labels %v", err, patched.GetLabels())
			}
			if rc.hasStatus {
				st, err := client.Patch(ctx, "crud-a", types.MergePatchType, []byte(rc.statusPatch), metav1.PatchOptions{}, "status")
				if err != nil {
					t.Fatalf("status patch: %v", err)
				}
				if st.GetResourceVersion() == patched.GetResourceVersion() {
					t.Fatalf("status patch %s changed nothing", rc.statusPatch)
				}
				// A status write leaves everything else alone, but where the
				// resource's status strategy writes metadata too.
				if _, err := client.Patch(ctx, "crud-a", types.MergePatchType, []byte(`{"metadata":{"labels":{"ignored":"yes"}}}`), metav1.PatchOptions{}, "status"); err != nil {
					t.Fatalf("status patch of labels: %v", err)
				}
				want := ""
				for _, r := range api.All {
					if r.GroupVersion.Group == rc.gvr.Group && r.Plural == rc.gvr.Resource && r.StatusWritesMetadata {
						want = "yes" // namespaces/status, as Kubernetes'
					}
				}
				if cur, _ := client.Get(ctx, "crud-a", metav1.GetOptions{}); cur.GetLabels()["ignored"] != want {
					t.Fatalf("after a status write of a label, labels are %v; want ignored=%q", cur.GetLabels(), want)
				}
			}

			if _, err := client.Create(ctx, &unstructured.Unstructured{Object: rc.object("crud-b")}, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create b: %v", err)
			}
			list, err := client.List(ctx, metav1.ListOptions{LabelSelector: "test=crud"})
			if err != nil || len(list.Items) != 2 {
				t.Fatalf("list: %v, %d items, want 2", err, len(list.Items))
			}

			if rc.gvr.Resource == "namespaces" {
				// Namespaces finalize through the namespace controller: a
				// delete leaves them Terminating.
				if err := client.Delete(ctx, "crud-a", metav1.DeleteOptions{}); err != nil {
					t.Fatalf("delete: %v", err)
				}
				ns, err := client.Get(ctx, "crud-a", metav1.GetOptions{})
				if err != nil || ns.GetDeletionTimestamp() == nil {
					t.Fatalf("deleted namespace: %v, deletionTimestamp %v", err, ns.GetDeletionTimestamp())
				}
				if phase, _, _ := unstructured.NestedString(ns.Object, "status", "phase"); phase != "Terminating" {
					t.Fatalf("deleted namespace phase %q, want Terminating", phase)
				}
				return
			}
			if err := client.Delete(ctx, "crud-a", metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := client.Get(ctx, "crud-a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("get after delete: %v, want NotFound", err)
			}
			if err := client.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "test=crud"}); err != nil {
				t.Fatalf("deletecollection: %v", err)
			}
			list, err = client.List(ctx, metav1.ListOptions{LabelSelector: "test=crud"})
			if err != nil || len(list.Items) != 0 {
				t.Fatalf("list after deletecollection: %v, %d items", err, len(list.Items))
			}

			want := []string{"ADDED crud-a", "MODIFIED crud-a", "MODIFIED crud-a"}
			if rc.hasStatus {
				want = append(want, "MODIFIED crud-a")
			}
			want = append(want, "ADDED crud-b", "DELETED crud-a", "DELETED crud-b")
			for i, wantEv := range want {
				select {
				case e := <-w.ResultChan():
					m, _ := e.Object.(*unstructured.Unstructured)
					if got := fmt.Sprintf("%s %s", e.Type, m.GetName()); got != wantEv {
						t.Fatalf("watch event %d = %s, want %s", i, got, wantEv)
					}
				case <-ctx.Done():
					t.Fatalf("watch: timed out waiting for %s", wantEv)
				}
			}
		})
	}
}
