package printers

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// now is the fixed "current time" every test row is rendered at.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var (
	podGVK        = corev1.SchemeGroupVersion.WithKind("Pod")
	nodeGVK       = corev1.SchemeGroupVersion.WithKind("Node")
	namespaceGVK  = corev1.SchemeGroupVersion.WithKind("Namespace")
	serviceGVK    = corev1.SchemeGroupVersion.WithKind("Service")
	endpointsGVK  = corev1.SchemeGroupVersion.WithKind("Endpoints")
	eventGVK      = corev1.SchemeGroupVersion.WithKind("Event")
	configMapGVK  = corev1.SchemeGroupVersion.WithKind("ConfigMap")
	secretGVK     = corev1.SchemeGroupVersion.WithKind("Secret")
	deploymentGVK = appsv1.SchemeGroupVersion.WithKind("Deployment")
	replicaSetGVK = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
	leaseGVK      = coordinationv1.SchemeGroupVersion.WithKind("Lease")
)

func ago(d time.Duration) metav1.Time           { return metav1.NewTime(now.Add(-d)) }
func microAgo(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(now.Add(-d)) }

// objectMeta is metadata of an object created ten minutes before now
// (age "10m").
func objectMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(10 * time.Minute)}
}

// rowOf renders obj with the printer of gvk, failing the test unless the row
// has exactly one cell per column.
func rowOf(t *testing.T, gvk schema.GroupVersionKind, obj runtime.Object) []any {
	t.Helper()
	p := For(gvk)
	if p == nil {
		t.Fatalf("For(%v) = nil", gvk)
	}
	cells := p.Row(obj, now)
	if len(cells) != len(p.Columns) {
		t.Fatalf("%v row has %d cells for %d columns: %#v", gvk.Kind, len(cells), len(p.Columns), cells)
	}
	return cells
}

// cellsByColumn renders obj and indexes its cells by column name.
func cellsByColumn(t *testing.T, gvk schema.GroupVersionKind, obj runtime.Object) map[string]any {
	t.Helper()
	cells := rowOf(t, gvk, obj)
	m := make(map[string]any, len(cells))
	for i, c := range For(gvk).Columns {
		m[c.Name] = cells[i]
	}
	return m
}

func checkRow(t *testing.T, got, want []any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row:\n got %#v\nwant %#v", got, want)
	}
}

type column struct {
	name     string
	typ      string
	priority int32
}

func columnsOf(p *Printer) []column {
	var cs []column
	for _, c := range p.Columns {
		cs = append(cs, column{c.Name, c.Type, c.Priority})
	}
	return cs
}

// TestColumns pins every table's column names, types and priorities to
// kube-apiserver 1.32's: they are what kubectl prints as headers, and
// priority 1 columns appear only with -o wide.
func TestColumns(t *testing.T) {
	s, i := "string", "integer"
	tests := []struct {
		gvk  schema.GroupVersionKind
		want []column
	}{
		{podGVK, []column{{"Name", s, 0}, {"Ready", s, 0}, {"Status", s, 0}, {"Restarts", s, 0}, {"Age", s, 0},
			{"IP", s, 1}, {"Node", s, 1}, {"Nominated Node", s, 1}, {"Readiness Gates", s, 1}}},
		{nodeGVK, []column{{"Name", s, 0}, {"Status", s, 0}, {"Roles", s, 0}, {"Age", s, 0}, {"Version", s, 0},
			{"Internal-IP", s, 1}, {"External-IP", s, 1}, {"OS-Image", s, 1}, {"Kernel-Version", s, 1}, {"Container-Runtime", s, 1}}},
		{namespaceGVK, []column{{"Name", s, 0}, {"Status", s, 0}, {"Age", s, 0}}},
		{serviceGVK, []column{{"Name", s, 0}, {"Type", s, 0}, {"Cluster-IP", s, 0}, {"External-IP", s, 0}, {"Port(s)", s, 0}, {"Age", s, 0},
			{"Selector", s, 1}}},
		{endpointsGVK, []column{{"Name", s, 0}, {"Endpoints", s, 0}, {"Age", s, 0}}},
		{eventGVK, []column{{"Last Seen", s, 0}, {"Type", s, 0}, {"Reason", s, 0}, {"Object", s, 0}, {"Subobject", s, 1},
			{"Source", s, 1}, {"Message", s, 0}, {"First Seen", s, 1}, {"Count", s, 1}, {"Name", s, 1}}},
		{configMapGVK, []column{{"Name", s, 0}, {"Data", s, 0}, {"Age", s, 0}}},
		{secretGVK, []column{{"Name", s, 0}, {"Type", s, 0}, {"Data", s, 0}, {"Age", s, 0}}},
		{deploymentGVK, []column{{"Name", s, 0}, {"Ready", s, 0}, {"Up-to-date", s, 0}, {"Available", s, 0}, {"Age", s, 0},
			{"Containers", s, 1}, {"Images", s, 1}, {"Selector", s, 1}}},
		{replicaSetGVK, []column{{"Name", s, 0}, {"Desired", i, 0}, {"Current", i, 0}, {"Ready", i, 0}, {"Age", s, 0},
			{"Containers", s, 1}, {"Images", s, 1}, {"Selector", s, 1}}},
		{leaseGVK, []column{{"Name", s, 0}, {"Holder", s, 0}, {"Age", s, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.gvk.Kind, func(t *testing.T) {
			p := For(tt.gvk)
			if p == nil {
				t.Fatalf("For(%v) = nil", tt.gvk)
			}
			if got := columnsOf(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("columns:\n got %v\nwant %v", got, tt.want)
			}
			// kubectl finds the object name through the one column of
			// format "name".
			names := 0
			for _, c := range p.Columns {
				if c.Format == "name" {
					names++
					if c.Name != "Name" {
						t.Errorf("column %q has format name", c.Name)
					}
				}
				if c.Description == "" {
					t.Errorf("column %q has no description", c.Name)
				}
			}
			if names != 1 {
				t.Errorf("%d columns of format name, want 1", names)
			}
		})
	}
}

// TestRowHasOneCellPerColumn renders an empty object and a populated one of
// every kind: kubectl misaligns or rejects a table whose rows do not match
// its columns.
func TestRowHasOneCellPerColumn(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	holder := "node-1"
	replicas := int32(2)
	objs := map[schema.GroupVersionKind][]runtime.Object{
		podGVK: {&corev1.Pod{}, &corev1.Pod{
			ObjectMeta: objectMeta("web"),
			Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init"}, {Name: "proxy", RestartPolicy: &always}},
				Containers:     []corev1.Container{{Name: "web"}},
				ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "x"}},
			},
			Status: corev1.PodStatus{
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "web"}},
			},
		}},
		nodeGVK:      {&corev1.Node{}, &corev1.Node{ObjectMeta: objectMeta("n1"), Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}},
		namespaceGVK: {&corev1.Namespace{}, &corev1.Namespace{ObjectMeta: objectMeta("ns"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}},
		serviceGVK: {&corev1.Service{}, &corev1.Service{ObjectMeta: objectMeta("svc"), Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}},
		endpointsGVK: {&corev1.Endpoints{}, &corev1.Endpoints{ObjectMeta: objectMeta("svc"), Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}}},
		eventGVK:      {&corev1.Event{}, &corev1.Event{ObjectMeta: objectMeta("ev"), Series: &corev1.EventSeries{Count: 2}}},
		configMapGVK:  {&corev1.ConfigMap{}, &corev1.ConfigMap{ObjectMeta: objectMeta("cm"), Data: map[string]string{"a": "b"}}},
		secretGVK:     {&corev1.Secret{}, &corev1.Secret{ObjectMeta: objectMeta("s"), Type: corev1.SecretTypeOpaque}},
		deploymentGVK: {&appsv1.Deployment{}, &appsv1.Deployment{ObjectMeta: objectMeta("d"), Spec: appsv1.DeploymentSpec{Replicas: &replicas}}},
		replicaSetGVK: {&appsv1.ReplicaSet{}, &appsv1.ReplicaSet{ObjectMeta: objectMeta("rs"), Spec: appsv1.ReplicaSetSpec{Replicas: &replicas}}},
		leaseGVK:      {&coordinationv1.Lease{}, &coordinationv1.Lease{ObjectMeta: objectMeta("l"), Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}},
	}
	if len(objs) != len(byKind) {
		t.Fatalf("test covers %d kinds, package has %d printers", len(objs), len(byKind))
	}
	for gvk, list := range objs {
		for _, obj := range list {
			rowOf(t, gvk, obj) // fails on a cell count mismatch
		}
	}
	t.Run("default", func(t *testing.T) {
		if got, want := len(Default().Row(&corev1.Pod{}, now)), len(Default().Columns); got != want {
			t.Errorf("default row has %d cells for %d columns", got, want)
		}
	})
}

func TestRowOfWrongTypeIsNil(t *testing.T) {
	if cells := For(podGVK).Row(&corev1.Node{}, now); cells != nil {
		t.Errorf("pod printer on a node = %#v, want nil", cells)
	}
}

func TestForUnknownKind(t *testing.T) {
	for _, gvk := range []schema.GroupVersionKind{
		appsv1.SchemeGroupVersion.WithKind("DaemonSet"),
		{Group: "", Version: "v2", Kind: "Pod"},
		{Group: "apps", Version: "v1", Kind: "Pod"},
		{Group: "example.com", Version: "v1", Kind: "Widget"},
	} {
		if p := For(gvk); p != nil {
			t.Errorf("For(%v) = %v, want nil", gvk, p)
		}
	}
}

// TestDefault pins the fallback table: kubectl shows it as NAME and
// CREATED AT, with the raw UTC timestamp.
func TestDefault(t *testing.T) {
	p := Default()
	if got, want := columnsOf(p), []column{{"Name", "string", 0}, {"Created At", "date", 0}}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	if p.Columns[0].Format != "name" {
		t.Errorf("Name column format = %q, want name", p.Columns[0].Format)
	}
	berlin := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name string
		obj  runtime.Object
		want []any
	}{
		{"created", &corev1.ServiceAccount{ObjectMeta: objectMeta("builder")}, []any{"builder", "2025-06-01T11:50:00Z"}},
		{"created in another zone", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "a",
			CreationTimestamp: metav1.NewTime(time.Date(2025, 6, 1, 13, 0, 0, 0, berlin))}}, []any{"a", "2025-06-01T11:00:00Z"}},
		{"never created", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, []any{"b", "0001-01-01T00:00:00Z"}},
		{"not an object", &metav1.Status{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRow(t, p.Row(tt.obj, now), tt.want)
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		t    metav1.Time
		want string
	}{
		{metav1.Time{}, "<unknown>"},
		{ago(0), "0s"},
		{ago(90 * time.Second), "90s"},
		{ago(5*time.Minute + 30*time.Second), "5m30s"},
		{ago(10 * time.Minute), "10m"},
		{ago(5*time.Hour + 3*time.Minute), "5h3m"},
		{ago(3*24*time.Hour + 4*time.Hour), "3d4h"},
		{ago(400 * 24 * time.Hour), "400d"},
		{metav1.NewTime(now.Add(time.Hour)), "<invalid>"},
	}
	for _, tt := range tests {
		if got := age(tt.t, now); got != tt.want {
			t.Errorf("age(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}
