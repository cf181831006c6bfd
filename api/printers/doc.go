// Package printers holds the server-side table columns of the resources
// Shepherd serves, so that `kubectl get` (which asks for a meta.k8s.io/v1
// Table) shows the same columns and cells as against kube-apiserver 1.32.
//
// For returns a kind's Printer; Default is the table kube-apiserver falls back
// to for kinds without one. A Printer's Row yields one cell per column, in
// column order, with the Go types kube puts in its cells (string, int64), so
// the JSON encoding of a Table built from them matches a real cluster's.
//
// kube-apiserver always builds the wide table and leaves it to kubectl to hide
// the columns with Priority 1 unless -o wide is asked for; Row does the same.
// Ages are relative to the now passed to Row, which keeps rows deterministic
// in tests.
//
// A table handler uses a printer like this:
//
//	p := printers.For(gvk)
//	if p == nil {
//		p = printers.Default()
//	}
//	table := metav1.Table{ColumnDefinitions: p.Columns}
//	for _, obj := range objs {
//		table.Rows = append(table.Rows, metav1.TableRow{
//			Cells:  p.Row(obj, now),
//			Object: runtime.RawExtension{Object: obj},
//		})
//	}
package printers
