package printers

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Printer is one resource's table.
//
// A Printer returned by this package is shared: callers must not modify its
// Columns.
type Printer struct {
	// Columns are the table's column definitions. Columns with Priority 1
	// are shown by kubectl only with -o wide.
	Columns []metav1.TableColumnDefinition
	// Row returns the cells of obj's row: exactly one per column, in column
	// order. Ages are measured up to now. Row returns nil when obj is not
	// of the kind the printer is for.
	Row func(obj runtime.Object, now time.Time) []any
}

var byKind = map[schema.GroupVersionKind]*Printer{
	corev1.SchemeGroupVersion.WithKind("Pod"):           podPrinter,
	corev1.SchemeGroupVersion.WithKind("Node"):          nodePrinter,
	corev1.SchemeGroupVersion.WithKind("Namespace"):     namespacePrinter,
	corev1.SchemeGroupVersion.WithKind("Service"):       servicePrinter,
	corev1.SchemeGroupVersion.WithKind("Endpoints"):     endpointsPrinter,
	corev1.SchemeGroupVersion.WithKind("Event"):         eventPrinter,
	corev1.SchemeGroupVersion.WithKind("ConfigMap"):     configMapPrinter,
	corev1.SchemeGroupVersion.WithKind("Secret"):        secretPrinter,
	appsv1.SchemeGroupVersion.WithKind("Deployment"):    deploymentPrinter,
	appsv1.SchemeGroupVersion.WithKind("ReplicaSet"):    replicaSetPrinter,
	coordinationv1.SchemeGroupVersion.WithKind("Lease"): leasePrinter,
}

// For returns the table of the kind gvk, or nil for kinds without a specific
// table (use Default for those). The version must be the one whose Go type
// the printer reads: core/v1, apps/v1 or coordination.k8s.io/v1.
func For(gvk schema.GroupVersionKind) *Printer { return byKind[gvk] }

// Default returns the table kube-apiserver serves for a resource without
// printers: the name, and the creation time as an RFC 3339 timestamp in UTC
// in a column of type date ("CREATED AT" in kubectl, as for CRDs without
// printer columns). Its Row accepts any object with ObjectMeta.
func Default() *Printer { return defaultPrinter }

var defaultPrinter = &Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Created At", Type: "date", Description: objectMetaDoc["creationTimestamp"]},
	},
	Row: func(obj runtime.Object, _ time.Time) []any {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil
		}
		return []any{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}
	},
}

var objectMetaDoc = metav1.ObjectMeta{}.SwaggerDoc()

// nameColumn is the column holding metadata.name; Format "name" is what
// kubectl looks for to print names.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]}
}

// ageColumn is the column holding the human-readable age of the object.
func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: objectMetaDoc["creationTimestamp"]}
}

// typed adapts a row function of one object type to Printer.Row.
func typed[T runtime.Object](row func(T, time.Time) []any) func(runtime.Object, time.Time) []any {
	return func(obj runtime.Object, now time.Time) []any {
		o, ok := obj.(T)
		if !ok {
			return nil
		}
		return row(o, now)
	}
}

// age renders the time elapsed from t to now as kube does: "<unknown>" for
// an unset time, else a short human duration ("5m", "3d4h").
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// microAge is age for a MicroTime.
func microAge(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}
