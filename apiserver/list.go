package apiserver

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	page, err := s.listPage(r, res, info, p)
	if err != nil {
		return err
	}
	writeList(w, r, res, page)
	return nil
}

// listPage is one page of a list, each item already encoded.
type listPage struct {
	meta  metav1.ListMeta
	items [][]byte
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
			}, items: make([][]byte, len(cached.Entries))}
			for i, e := range cached.Entries {
				if page.items[i], err = e.Encoded(); err != nil {
					return nil, storageError(err, res, "")
				}
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
	page := &listPage{meta: metav1.ListMeta{
		ResourceVersion:    storage.FormatRevision(result.Revision),
		Continue:           result.Continue,
		RemainingItemCount: result.RemainingItemCount,
	}, items: make([][]byte, len(result.Items))}
	for i, o := range result.Items {
		o.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
		if page.items[i], err = encodeJSON(o); err != nil {
			return nil, storageError(err, res, "")
		}
	}
	return page, nil
}

// writeList writes a list of already encoded items. Plain JSON is streamed
// item by item; other forms are built whole and converted.
func writeList(w http.ResponseWriter, r *http.Request, res *api.Resource, page *listPage) {
	metaJSON, _ := json.Marshal(page.meta)
	head := `{"kind":"` + res.ListKind + `","apiVersion":"` + res.GroupVersion.String() + `","metadata":` + string(metaJSON) + `,"items":[`
	out, _ := negotiate(r)
	if out != outputJSON || wantPretty(r) {
		size := len(head) + 3
		for _, it := range page.items {
			size += len(it) + 1
		}
		body := make([]byte, 0, size)
		body = append(body, head...)
		for i, it := range page.items {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, it...)
		}
		body = append(body, "]}\n"...)
		writeRaw(w, r, http.StatusOK, body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(head)
	for i, it := range page.items {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(it)
	}
	bw.WriteString("]}\n")
	bw.Flush()
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
