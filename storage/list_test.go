package storage_test

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/shepherd-lab/shepherd/storage"
)

func TestListPaginationIsConsistent(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	for i := range 25 {
		if err := s.Create(ctx, pods, pod("default", fmt.Sprintf("p%02d", i), "", nil)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	opts := storage.ListOptions{Namespace: "default", Limit: 10}
	var pages, rev int64
	for {
		page, err := s.List(ctx, pods, opts)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if rev == 0 {
			rev = page.Revision
		} else if page.Revision != rev {
			t.Fatalf("page %d read at %d, first page at %d", pages, page.Revision, rev)
		}
		pages++
		for _, o := range page.Items {
			seen[o.(*corev1.Pod).Name]++
		}
		if page.Continue == "" {
			if page.RemainingItemCount != nil {
				t.Fatalf("last page has remainingItemCount %d", *page.RemainingItemCount)
			}
			break
		}
		if want := int64(25) - int64(len(seen)); page.RemainingItemCount == nil || *page.RemainingItemCount != want {
			t.Fatalf("remainingItemCount = %v, want %d", page.RemainingItemCount, want)
		}
		// Writes between pages must not show up in this list.
		if err := s.Create(ctx, pods, pod("default", fmt.Sprintf("late%d", pages), "", nil)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Delete(ctx, pods, "default", fmt.Sprintf("p%02d", 24-pages), nil); err != nil {
			t.Fatal(err)
		}
		opts.Continue = page.Continue
	}
	if pages != 3 || len(seen) != 25 {
		t.Fatalf("%d pages with %d pods, want 3 pages with the 25 original pods", pages, len(seen))
	}
	for name, n := range seen {
		if n != 1 {
			t.Fatalf("pod %s listed %d times", name, n)
		}
	}
}

func TestListSelectors(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	mk := func(ns, name, node string, phase corev1.PodPhase, app string) {
		p := pod(ns, name, node, map[string]string{"app": app})
		p.Status.Phase = phase
		if err := s.Create(ctx, pods, p); err != nil {
			t.Fatal(err)
		}
	}
	mk("a", "web-1", "n1", corev1.PodRunning, "web")
	mk("a", "web-2", "n2", corev1.PodPending, "web")
	mk("b", "db-1", "n1", corev1.PodRunning, "db")
	for i := range 150 { // enough non-matching pods to need several filtered batches
		mk("c", fmt.Sprintf("filler-%03d", i), "n3", corev1.PodRunning, "filler")
	}
	mk("c", "web-3", "n1", corev1.PodRunning, "web")

	cases := []struct {
		name   string
		opts   storage.ListOptions
		expect []string
	}{
		{"label", storage.ListOptions{Predicate: storage.Predicate{Label: labels.SelectorFromSet(labels.Set{"app": "web"})}}, []string{"web-1", "web-2", "web-3"}},
		{"label in namespace", storage.ListOptions{Namespace: "a", Predicate: storage.Predicate{Label: labels.SelectorFromSet(labels.Set{"app": "web"})}}, []string{"web-1", "web-2"}},
		{"spec.nodeName", storage.ListOptions{Predicate: storage.Predicate{Field: fields.OneTermEqualSelector("spec.nodeName", "n1")}}, []string{"web-1", "db-1", "web-3"}},
		{"status.phase", storage.ListOptions{Predicate: storage.Predicate{Field: fields.OneTermEqualSelector("status.phase", "Pending")}}, []string{"web-2"}},
		{"metadata.name", storage.ListOptions{Predicate: storage.Predicate{Field: fields.OneTermEqualSelector("metadata.name", "db-1")}}, []string{"db-1"}},
		{"metadata.namespace", storage.ListOptions{Predicate: storage.Predicate{Field: fields.OneTermNotEqualSelector("metadata.namespace", "c")}}, []string{"web-1", "web-2", "db-1"}},
		{"filtered pages of 1", storage.ListOptions{Limit: 1, Predicate: storage.Predicate{Label: labels.SelectorFromSet(labels.Set{"app": "web"})}}, []string{"web-1", "web-2", "web-3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			opts := c.opts
			for {
				page, err := s.List(ctx, pods, opts)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range page.Items {
					got = append(got, o.(*corev1.Pod).Name)
				}
				if page.Continue == "" {
					break
				}
				opts.Continue = page.Continue
			}
			if fmt.Sprint(got) != fmt.Sprint(c.expect) {
				t.Fatalf("got %v, want %v", got, c.expect)
			}
		})
	}
}

func TestListErrors(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	for i := range 3 {
		if err := s.Create(ctx, pods, pod("default", fmt.Sprintf("p%d", i), "", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.List(ctx, pods, storage.ListOptions{Continue: "not-a-token"}); !errors.Is(err, storage.ErrInvalidContinue) {
		t.Fatalf("bad continue: got %v, want ErrInvalidContinue", err)
	}
	page, err := s.List(ctx, pods, storage.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Move history past the page's revision and compact it away.
	var last *corev1.Pod
	for i := range 3 {
		last = pod("default", fmt.Sprintf("q%d", i), "", nil)
		if err := s.Create(ctx, pods, last); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compact(ctx, rv(t, last)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, pods, storage.ListOptions{Limit: 1, Continue: page.Continue}); !errors.Is(err, storage.ErrExpired) {
		t.Fatalf("continue after compaction: got %v, want ErrExpired", err)
	}
	if _, err := s.List(ctx, pods, storage.ListOptions{Revision: rv(t, last) + 1000}); !errors.Is(err, storage.ErrFutureRevision) {
		t.Fatalf("list at a future revision: got %v, want ErrFutureRevision", err)
	}
}
