package integration

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

func TestPaginationWhileWriting(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")
	const initial = 100
	for i := range initial {
		if _, err := pods.Create(ctx, newPod(fmt.Sprintf("p-%03d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A writer adds pods the whole time the list is being paged.
	stop := make(chan struct{})
	var added atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := pods.Create(ctx, newPod(fmt.Sprintf("new-%03d", i), nil), metav1.CreateOptions{}); err != nil {
				t.Error(err)
				return
			}
			added.Add(1)
		}
	}()
	seen := map[string]int{}
	opts := metav1.ListOptions{Limit: 7}
	var rv string
	pages := 0
	for {
		list, err := pods.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if rv == "" {
			rv = list.ResourceVersion
		} else if list.ResourceVersion != rv {
			t.Fatalf("page %d at resourceVersion %s, first page at %s", pages, list.ResourceVersion, rv)
		}
		for _, p := range list.Items {
			seen[p.Name]++
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	close(stop)
	wg.Wait()
	if added.Load() == 0 {
		t.Fatal("the writer added nothing while the list was paged")
	}
	for name, n := range seen {
		if n != 1 {
			t.Fatalf("%s listed %d times", name, n)
		}
	}
	for i := range initial {
		if seen[fmt.Sprintf("p-%03d", i)] != 1 {
			t.Fatalf("p-%03d missing from the paged list", i)
		}
	}
	if pages < initial/7 {
		t.Fatalf("%d pages of 7 for at least %d pods", pages, initial)
	}
}

func TestSelectors(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	core := srv.Client.CoreV1()
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mk := func(ns, name, app, node string) {
		p := newPod(name, map[string]string{"app": app})
		if _, err := core.Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if node != "" {
			if err := core.Pods(ns).Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("default", "web-1", "web", "n1")
	mk("default", "web-2", "web", "")
	mk("default", "db-1", "db", "n1")
	mk("other", "web-3", "web", "n2")
	if _, err := core.Pods("default").Patch(ctx, "db-1", types.MergePatchType, []byte(`{"status":{"phase":"Running"}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ns, label, field string
		want             string
	}{
		{"", "app=web", "", "[web-1 web-2 web-3]"},
		{"default", "app=web", "", "[web-1 web-2]"},
		{"", "app in (db)", "", "[db-1]"},
		{"", "app!=web", "", "[db-1]"},
		{"", "", "spec.nodeName=n1", "[db-1 web-1]"},
		{"", "", "spec.nodeName=", "[web-2]"},
		{"", "", "status.phase=Running", "[db-1]"},
		{"", "", "metadata.namespace=other", "[web-3]"},
		{"default", "app=web", "metadata.name=web-2", "[web-2]"},
	}
	for _, c := range cases {
		list, err := core.Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: c.label, FieldSelector: c.field})
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		var names []string
		for _, p := range list.Items {
			names = append(names, p.Name)
		}
		if fmt.Sprint(names) != c.want {
			t.Errorf("ns=%q label=%q field=%q: got %v, want %s", c.ns, c.label, c.field, names, c.want)
		}
	}
	_, err := core.Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.bogus=1"})
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("unsupported field selector: %v, want 400", err)
	}
	_, err = core.Pods("").List(ctx, metav1.ListOptions{LabelSelector: "app in (("})
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("malformed label selector: %v, want 400", err)
	}
}
