package apiserver

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/watchcache"
)

// list serves a LIST. The first page comes from the watch cache (waiting,
// for a consistent list, until it has caught up with etcd); later pages and
// exact-revision reads come from etcd at the list's revision.
func (s *Server) list(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	p, err := parseListParams(r, res, info)
	if err != nil {
		return err
	}
	asTable, include, err := tableRequest(r)
	if err != nil {
		return err
	}
	page, err := s.listPage(r, res, info, p)
	if err != nil {
		return err
	}
	if asTable {
		table, err := toTable(res, page.objects, page.meta, include)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		writeObject(w, r, http.StatusOK, table)
		return nil
	}
	return writeList(w, r, res, page)
}

// listPage is one page of a list. Objects from the watch cache come with
// their entries, whose encoding is memoized.
type listPage struct {
	meta    metav1.ListMeta
	objects []runtime.Object
	entries []*watchcache.Entry
}

// item returns the JSON of the i'th object.
func (p *listPage) item(i int) ([]byte, error) {
	if p.entries != nil {
		return p.entries[i].Encoded()
	}
	return encodeJSON(p.objects[i])
}

// protoItem returns the protobuf message of the i'th object.
func (p *listPage) protoItem(i int) ([]byte, error) {
	if p.entries != nil {
		return p.entries[i].EncodedProto()
	}
	m, ok := p.objects[i].(interface{ Marshal() ([]byte, error) })
	if !ok {
		return nil, fmt.Errorf("%T has no protobuf encoding", p.objects[i])
	}
	return m.Marshal()
}

func (s *Server) listPage(r *http.Request, res *api.Resource, info requestInfo, p listParams) (*listPage, error) {
	ctx := r.Context()
	fromEtcd := p.continueToken != "" || p.resourceVersionMatch == metav1.ResourceVersionMatchExact
	if !fromEtcd {
		cached, err := s.caches[res].List(ctx, listOptionsFor(info, p))
		switch {
		case err == nil:
			page := &listPage{meta: metav1.ListMeta{
				ResourceVersion:    storage.FormatRevision(cached.Revision),
				Continue:           cached.Continue,
				RemainingItemCount: cached.RemainingItemCount,
			}, entries: cached.Entries, objects: make([]runtime.Object, len(cached.Entries))}
			for i, e := range cached.Entries {
				page.objects[i] = e.Object
			}
			return page, nil
		case errors.Is(err, watchcache.ErrNotFresh) && p.resourceVersion == "":
			s.log.Warn("watch cache behind etcd; listing from etcd", "resource", res.GroupResource(), "err", err)
		default:
			return nil, storageError(err, res, "")
		}
	}
	var rev int64
	if p.resourceVersionMatch == metav1.ResourceVersionMatchExact {
		rev = p.revision
	}
	result, err := s.store.List(ctx, res.Storage, storage.ListOptions{
		Namespace: info.Namespace,
		Predicate: p.predicate,
		Limit:     p.limit,
		Continue:  p.continueToken,
		Revision:  rev,
	})
	if err != nil {
		return nil, storageError(err, res, "")
	}
	for _, o := range result.Items {
		o.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	}
	return &listPage{meta: metav1.ListMeta{
		ResourceVersion:    storage.FormatRevision(result.Revision),
		Continue:           result.Continue,
		RemainingItemCount: result.RemainingItemCount,
	}, objects: result.Items}, nil
}

// writeList writes a list page. Plain JSON is streamed item by item from
// the memoized encodings; other forms are built whole and converted.
func writeList(w http.ResponseWriter, r *http.Request, res *api.Resource, page *listPage) error {
	if out, _ := negotiate(r); out == outputProtobuf {
		items := make([][]byte, len(page.objects))
		for i := range page.objects {
			var err error
			if items[i], err = page.protoItem(i); err != nil {
				return apierrors.NewInternalError(err)
			}
		}
		body, err := protoList(res, page.meta, items)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		writeProto(w, http.StatusOK, body)
		return nil
	}
	metaJSON, _ := json.Marshal(page.meta)
	head := `{"kind":"` + res.ListKind + `","apiVersion":"` + res.GroupVersion.String() + `","metadata":` + string(metaJSON) + `,"items":[`
	items := make([][]byte, len(page.objects))
	size := len(head) + 3
	for i := range page.objects {
		var err error
		if items[i], err = page.item(i); err != nil {
			return apierrors.NewInternalError(err)
		}
		size += len(items[i]) + 1
	}
	out, _ := negotiate(r)
	if out != outputJSON || wantPretty(r) {
		body := make([]byte, 0, size)
		body = append(body, head...)
		for i, it := range items {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, it...)
		}
		body = append(body, "]}\n"...)
		writeRaw(w, r, http.StatusOK, body)
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(head)
	for i, it := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(it)
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// listOptionsFor is a list request as the watch cache takes it.
func listOptionsFor(info requestInfo, p listParams) watchcache.ListOptions {
	return watchcache.ListOptions{
		Namespace:   info.Namespace,
		Predicate:   p.predicate,
		Limit:       p.limit,
		MinRevision: p.revision,
		Consistent:  p.resourceVersion == "",
	}
}
