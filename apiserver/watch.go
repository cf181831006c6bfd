package apiserver

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/watchcache"
)

// minWatchTimeout is the shortest a watch without timeoutSeconds lasts;
// each lasts a random time up to twice this, so clients' re-watches spread
// out, as kube-apiserver does.
const minWatchTimeout = 30 * time.Minute

// watch serves a watch: a stream of {"type","object"} lines from the
// resource's watch cache.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	p, err := parseListParams(r, res, info)
	if err != nil {
		return err
	}
	asTable, include, err := tableRequest(r)
	if err != nil {
		return err
	}
	// frame is an event's bytes on the stream: a JSON line with the
	// memoized JSON object (or for kubectl get --watch a one-row Table), or
	// a protobuf frame for clients that prefer protobuf.
	encode := func(e watchcache.Event) ([]byte, error) { return e.Entry.Encoded() }
	out, _ := negotiate(r)
	useProto := out == outputProtobuf && !asTable
	frame := func(e watchcache.Event) ([]byte, error) {
		obj, err := encode(e)
		if err != nil {
			return nil, err
		}
		line := make([]byte, 0, len(obj)+32)
		line = append(line, `{"type":"`...)
		line = append(line, e.Type...)
		line = append(line, `","object":`...)
		line = append(line, obj...)
		return append(line, "}\n"...), nil
	}
	if useProto {
		frame = func(e watchcache.Event) ([]byte, error) {
			var obj []byte
			var err error
			if e.Type == watch.Error {
				obj, err = encodeProto(e.Entry.Object)
			} else if msg, perr := e.Entry.EncodedProto(); perr == nil {
				gvk := e.Entry.Object.GetObjectKind().GroupVersionKind()
				obj, err = envelope(gvk.GroupVersion().String(), gvk.Kind, msg)
			} else {
				err = perr
			}
			if err != nil {
				return nil, err
			}
			return protoWatchFrame(string(e.Type), obj)
		}
	}
	if asTable {
		encode = func(e watchcache.Event) ([]byte, error) {
			if e.Type == watch.Bookmark || e.Type == watch.Error {
				return e.Entry.Encoded()
			}
			table, err := toTable(res, []runtime.Object{e.Entry.Object}, metav1.ListMeta{ResourceVersion: storage.FormatRevision(e.Entry.Revision)}, include)
			if err != nil {
				return nil, err
			}
			return marshal(table)
		}
	}
	opts := watchcache.WatchOptions{
		Namespace: info.Namespace,
		Predicate: p.predicate,
		Bookmarks: p.allowBookmarks,
	}
	switch {
	case p.sendInitialEvents != nil && *p.sendInitialEvents:
		// The watch-list protocol: the state, an end marker, then changes.
		opts.InitialState, opts.InitialEventsEnd = true, true
		opts.Revision = p.revision
		opts.Consistent = p.resourceVersion == ""
	case p.resourceVersion == "":
		// Kubernetes: the current state as Added events, then changes.
		opts.InitialState, opts.Consistent = true, true
	case p.resourceVersion == "0":
		opts.InitialState = true
	default:
		opts.Revision = p.revision
	}
	timeout := p.timeout
	if timeout == 0 {
		timeout = minWatchTimeout + time.Duration(rand.Int64N(int64(minWatchTimeout)))
	}

	var events <-chan watchcache.Event
	wc, err := s.caches[res].Watch(r.Context(), opts)
	var statusErr *apierrors.StatusError
	switch {
	case err == nil:
		defer wc.Stop()
		events = wc.ResultChan()
	case apierrors.IsResourceExpired(err) && opts.Revision > 0:
		// Older than the cache's history (a client resuming after this
		// apiserver restarted, say): etcd may still have it.
		var stop func()
		if events, stop, err = s.watchEtcd(r, res, info, p); err != nil {
			return err
		}
		defer stop()
	case errors.As(err, &statusErr):
		// As kube-apiserver: a watch that cannot start from its revision
		// is a stream whose one event is the error.
		st := toStatus(statusErr)
		writeWatchHeader(w, useProto)
		if data, err := frame(watchcache.Event{Type: watch.Error, Entry: watchcache.NewEntry("", st, 0, encodeJSON)}); err == nil {
			w.Write(data)
		}
		return nil
	default:
		return storageError(err, res, "")
	}

	writeWatchHeader(w, useProto)
	flusher, _ := w.(http.Flusher)
	bw := bufio.NewWriterSize(w, 32<<10)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-timer.C:
			return nil
		case e, ok := <-events:
			if !ok {
				return nil
			}
			if err := writeWatchEvent(bw, e, frame); err != nil {
				s.log.Warn("encoding watch event", "resource", res.GroupResource(), "err", err)
				return nil
			}
			// Write out whatever else is ready before flushing.
			for more := true; more; {
				select {
				case e, ok := <-events:
					if !ok {
						bw.Flush()
						return nil
					}
					if err := writeWatchEvent(bw, e, frame); err != nil {
						return nil
					}
				default:
					more = false
				}
			}
			if bw.Flush() != nil {
				return nil
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

func writeWatchHeader(w http.ResponseWriter, proto bool) {
	w.Header().Set("Content-Type", "application/json")
	if proto {
		w.Header().Set("Content-Type", contentTypeProtobufWatch)
	}
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func writeWatchEvent(bw *bufio.Writer, e watchcache.Event, frame func(watchcache.Event) ([]byte, error)) error {
	data, err := frame(e)
	if err != nil {
		return err
	}
	_, err = bw.Write(data)
	return err
}

// watchEtcd serves a watch straight from etcd, for revisions the watch
// cache no longer holds. A compacted revision arrives as a 410 ERROR event.
func (s *Server) watchEtcd(r *http.Request, res *api.Resource, info requestInfo, p listParams) (<-chan watchcache.Event, func(), error) {
	w, err := s.store.Watch(r.Context(), res.Storage, storage.WatchOptions{
		Namespace:      info.Namespace,
		Predicate:      p.predicate,
		Revision:       p.revision,
		ProgressNotify: p.allowBookmarks,
	})
	if err != nil {
		return nil, nil, storageError(err, res, "")
	}
	out := make(chan watchcache.Event)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for e := range w.ResultChan() {
			rev, _ := storage.Revision(e.Object)
			if e.Type != watch.Error {
				e.Object.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
			}
			select {
			case out <- watchcache.Event{Type: e.Type, Entry: watchcache.NewEntry("", e.Object, rev, encodeJSON)}:
			case <-r.Context().Done():
				return
			}
		}
	}()
	return out, func() { w.Stop(); <-done }, nil
}
