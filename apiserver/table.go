package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/api/printers"
)

// tableRequest reports whether the client asked for a meta.k8s.io Table
// (kubectl get does) and how much of each object to embed in the rows.
func tableRequest(r *http.Request) (bool, metav1.IncludeObjectPolicy, error) {
	asTable := false
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "application/json" {
			continue
		}
		if tableMediaType(mt, params) {
			asTable = true
			break
		}
		if params["as"] == "" {
			break // plain JSON is preferred
		}
	}
	if !asTable {
		return false, "", nil
	}
	switch p := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject")); p {
	case "":
		return true, metav1.IncludeMetadata, nil
	case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
		return true, p, nil
	default:
		return false, "", apierrors.NewBadRequest(fmt.Sprintf("includeObject: unsupported value %q: supported values: None, Metadata, Object", p))
	}
}

// tableMediaType reports whether an Accept clause asks for a meta.k8s.io
// Table, the form served (as JSON) to reads.
func tableMediaType(mt string, params map[string]string) bool {
	return mt == "application/json" && params["as"] == "Table" && params["g"] == "meta.k8s.io" &&
		(params["v"] == "v1" || params["v"] == "v1beta1")
}

// printerFor is the table of a resource's kind, or the default one.
func printerFor(res *api.Resource) *printers.Printer {
	if p := printers.For(res.GroupVersionKind()); p != nil {
		return p
	}
	return printers.Default()
}

// toTable renders objects as a Table with res's columns.
func toTable(res *api.Resource, objects []runtime.Object, listMeta metav1.ListMeta, include metav1.IncludeObjectPolicy) (*metav1.Table, error) {
	p := printerFor(res)
	now := time.Now()
	table := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ListMeta:          listMeta,
		ColumnDefinitions: p.Columns,
		Rows:              make([]metav1.TableRow, 0, len(objects)),
	}
	for _, obj := range objects {
		row := metav1.TableRow{Cells: p.Row(obj, now)}
		switch include {
		case metav1.IncludeObject:
			data, err := encodeJSON(obj)
			if err != nil {
				return nil, err
			}
			row.Object.Raw = data
		case metav1.IncludeMetadata:
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil, err
			}
			partial := meta.AsPartialObjectMetadata(m)
			partial.TypeMeta = metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}
			data, err := json.Marshal(partial)
			if err != nil {
				return nil, err
			}
			row.Object.Raw = data
		}
		table.Rows = append(table.Rows, row)
	}
	return table, nil
}
