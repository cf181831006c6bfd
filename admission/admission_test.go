package admission

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
)

// fakeCluster answers from a map of namespaces.
type fakeCluster struct {
	namespaces map[string]*corev1.Namespace
	settings   Settings
}

func (f fakeCluster) Namespace(_ context.Context, name string) (*corev1.Namespace, error) {
	if ns := f.namespaces[name]; ns != nil {
		return ns, nil
	}
	return nil, apierrors.NewNotFound(api.Namespaces.GroupResource(), name)
}

func (f fakeCluster) Settings() Settings { return f.settings }

func testCluster() fakeCluster {
	active := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	gone := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "going"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	return fakeCluster{
		namespaces: map[string]*corev1.Namespace{"default": active, "kube-system": active, "going": gone},
		settings:   Settings{DefaultNotReadyTolerationSeconds: 7, DefaultUnreachableTolerationSeconds: 9},
	}
}

func pod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	adm := New(testCluster())
	ctx := context.Background()
	cm := func(ns string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "c"}}
	}
	event := func(ns string) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: "e"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "p"},
			Reason:         "Started", Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "kubelet"},
		}
	}

	// Creates: a missing namespace is 404, a terminating one 403 with
	// Kubernetes' cause, for every resource (events too).
	for _, tc := range []struct {
		name     string
		res      *api.Resource
		obj      runtime.Object
		wantCode int32
	}{
		{"configmap in an active namespace", api.ConfigMaps, cm("default"), 0},
		{"configmap in a missing namespace", api.ConfigMaps, cm("nope"), 404},
		{"configmap in a terminating namespace", api.ConfigMaps, cm("going"), 403},
		{"event in a terminating namespace", api.Events, event("going"), 403},
		{"pod in a terminating namespace", api.Pods, pod("going", "p"), 403},
		{"event in an active namespace", api.Events, event("default"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := adm.Create(ctx, tc.res, tc.obj)
			if code := statusCode(err); code != tc.wantCode {
				t.Fatalf("code %d (%v), want %d", code, err, tc.wantCode)
			}
			if tc.wantCode == 403 {
				want := "unable to create new content in namespace going because it is being terminated"
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q lacks %q", err, want)
				}
				if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					t.Errorf("no %s cause in %#v", corev1.NamespaceTerminatingCause, err)
				}
			}
		})
	}

	// An update in a terminating namespace passes (finalizers must come
	// off); deletes always pass but for the immortal namespaces.
	old := cm("going")
	old.ResourceVersion = "5"
	next := old.DeepCopy()
	next.Data = map[string]string{"k": "v"}
	if err := adm.Update(ctx, api.ConfigMaps, next, old); err != nil {
		t.Errorf("update in a terminating namespace: %v", err)
	}
	if err := adm.Delete(ctx, api.ConfigMaps, "going", "c", nil); err != nil {
		t.Errorf("delete in a terminating namespace: %v", err)
	}
	for _, ns := range []string{"default", "kube-system", "kube-public"} {
		err := adm.Delete(ctx, api.Namespaces, "", ns, nil)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "this namespace may not be deleted") {
			t.Errorf("delete namespace %s: %v, want 403 may not be deleted", ns, err)
		}
	}
	if err := adm.Delete(ctx, api.Namespaces, "", "going", nil); err != nil {
		t.Errorf("delete namespace going: %v", err)
	}
	// A binding is a create of pods/binding: refused in a terminating
	// namespace, as kube-apiserver does.
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Namespace: "going", Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n"}}
	if err := adm.Admit(ctx, Binding(b, "going")); !apierrors.IsForbidden(err) {
		t.Errorf("binding in a terminating namespace: %v, want 403", err)
	}
}

func TestPriority(t *testing.T) {
	adm := New(testCluster())
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		class       string
		priority    *int32
		policy      *corev1.PreemptionPolicy
		want        int32
		wantRefusal string
	}{
		{name: "no class: 0", want: 0},
		{name: "system-cluster-critical", class: "system-cluster-critical", want: 2000000000},
		{name: "system-node-critical", class: "system-node-critical", want: 2000001000},
		{name: "the value the class gives is accepted", class: "system-node-critical", priority: ptr.To[int32](2000001000), want: 2000001000},
		{name: "an unknown class", class: "team-batch", wantRefusal: "no PriorityClass with name team-batch was found"},
		{name: "a priority without a class", priority: ptr.To[int32](1000),
			wantRefusal: "the integer value of priority (1000) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"},
		{name: "a preemption policy the class does not give", policy: ptr.To(corev1.PreemptNever),
			wantRefusal: "the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pod("default", "p")
			p.Spec.PriorityClassName, p.Spec.Priority, p.Spec.PreemptionPolicy = tc.class, tc.priority, tc.policy
			err := adm.Create(ctx, api.Pods, p)
			if tc.wantRefusal != "" {
				if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.wantRefusal) {
					t.Fatalf("err %v, want 403 %q", err, tc.wantRefusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Spec.Priority == nil || *p.Spec.Priority != tc.want {
				t.Errorf("priority %v, want %d", p.Spec.Priority, tc.want)
			}
			if p.Spec.PreemptionPolicy == nil || *p.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
				t.Errorf("preemptionPolicy %v, want PreemptLowerPriority", p.Spec.PreemptionPolicy)
			}
		})
	}

	// An update without the fields (a client that dropped them) keeps the
	// stored ones instead of failing validation.
	old := pod("default", "p")
	if err := adm.Create(ctx, api.Pods, old); err != nil {
		t.Fatal(err)
	}
	old.ResourceVersion = "3"
	next := old.DeepCopy()
	next.Spec.Priority, next.Spec.PreemptionPolicy = nil, nil
	next.Labels = map[string]string{"a": "b"}
	if err := adm.Update(ctx, api.Pods, next, old); err != nil {
		t.Fatalf("update without priority: %v", err)
	}
	if next.Spec.Priority == nil || *next.Spec.Priority != 0 || next.Spec.PreemptionPolicy == nil {
		t.Errorf("update lost priority fields: %v %v", next.Spec.Priority, next.Spec.PreemptionPolicy)
	}
}

func TestDefaultTolerationsFromSettings(t *testing.T) {
	adm := New(testCluster())
	p := pod("default", "p")
	if err := adm.Create(context.Background(), api.Pods, p); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, tol := range p.Spec.Tolerations {
		got[tol.Key] = *tol.TolerationSeconds
	}
	if got[corev1.TaintNodeNotReady] != 7 || got[corev1.TaintNodeUnreachable] != 9 {
		t.Errorf("tolerations %v, want not-ready 7 and unreachable 9 from the settings", p.Spec.Tolerations)
	}
	// Only new pods: an update adds nothing.
	old := p.DeepCopy()
	old.ResourceVersion = "2"
	next := old.DeepCopy()
	next.Spec.Tolerations = next.Spec.Tolerations[:1]
	adm.Update(context.Background(), api.Pods, next, old) // validation refuses the change; what matters is no re-add
	if len(next.Spec.Tolerations) != 1 {
		t.Errorf("update re-added tolerations: %v", next.Spec.Tolerations)
	}
}

func TestCreateRunsTheStrategy(t *testing.T) {
	adm := New(testCluster())
	p := pod("default", "")
	p.GenerateName = "web-"
	if err := adm.Create(context.Background(), api.Pods, p); err != nil {
		t.Fatal(err)
	}
	if p.UID == "" || !strings.HasPrefix(p.Name, "web-") || p.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("strategy not applied: uid %q name %q restartPolicy %q", p.UID, p.Name, p.Spec.RestartPolicy)
	}
	bad := pod("default", "Bad_Name")
	if err := adm.Create(context.Background(), api.Pods, bad); !apierrors.IsInvalid(err) {
		t.Errorf("invalid pod: %v, want 422", err)
	}
	// Admission refuses before validation, as kube-apiserver's mutating
	// plugins run before the strategy.
	if err := adm.Create(context.Background(), api.Pods, pod("nope", "Bad_Name")); !apierrors.IsNotFound(err) {
		t.Errorf("invalid pod in a missing namespace: %v, want 404", err)
	}
}

func statusCode(err error) int32 {
	if err == nil {
		return 0
	}
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Code
	}
	return -1
}
