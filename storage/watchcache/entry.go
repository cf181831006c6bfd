package watchcache

import (
	"fmt"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Encoder turns an object into its wire form. Its result for an object must
// not change, since the cache keeps it for the object's lifetime.
type Encoder func(runtime.Object) ([]byte, error)

// Entry is one object as the cache holds it. Object is shared: read it,
// never modify it.
type Entry struct {
	Key      string
	Object   runtime.Object
	Revision int64

	encoder Encoder
	encoded atomic.Pointer[[]byte]
	proto   atomic.Pointer[[]byte]
}

// protoMarshaler is what k8s.io/api types implement.
type protoMarshaler interface{ Marshal() ([]byte, error) }

// EncodedProto returns the object's protobuf message (without Kubernetes'
// envelope), encoding it on first use only.
func (e *Entry) EncodedProto() ([]byte, error) {
	if p := e.proto.Load(); p != nil {
		return *p, nil
	}
	m, ok := e.Object.(protoMarshaler)
	if !ok {
		return nil, fmt.Errorf("%T has no protobuf encoding", e.Object)
	}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	e.proto.Store(&b)
	return b, nil
}

// Encoded returns the object's wire form, encoding it on first use only.
func (e *Entry) Encoded() ([]byte, error) {
	if p := e.encoded.Load(); p != nil {
		return *p, nil
	}
	b, err := e.encoder(e.Object)
	if err != nil {
		return nil, err
	}
	e.encoded.Store(&b)
	return b, nil
}

// Event is one change delivered to a watcher.
type Event struct {
	Type  watch.EventType
	Entry *Entry
}

// NewEntry wraps an object that does not come from a cache (an event read
// from etcd directly, say) so it can be handed out like a cached one.
func NewEntry(key string, obj runtime.Object, rev int64, enc Encoder) *Entry {
	return &Entry{Key: key, Object: obj, Revision: rev, encoder: enc}
}
