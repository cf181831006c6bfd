package storage

import (
	"bytes"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// codec turns objects into the bytes stored in etcd and back.
type codec struct {
	pb *protobuf.Serializer
}

func newCodec(scheme *runtime.Scheme) codec {
	return codec{pb: protobuf.NewSerializer(scheme, scheme)}
}

// encode returns the stored form of obj: its kind set, its resourceVersion
// left out (the key's ModRevision is the resourceVersion). obj is unchanged
// on return but for its kind.
func (c codec) encode(r *Resource, obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(r.Kind)
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	defer m.SetResourceVersion(rv)
	var buf bytes.Buffer
	if err := c.pb.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("encode %s %s/%s: %w", r.Kind.Kind, m.GetNamespace(), m.GetName(), err)
	}
	return buf.Bytes(), nil
}

// decode fills into from stored bytes and sets its resourceVersion to rev.
func (c codec) decode(data []byte, into runtime.Object, rev int64) error {
	if _, _, err := c.pb.Decode(data, nil, into); err != nil {
		return err
	}
	return setRevision(into, rev)
}

func setRevision(obj runtime.Object, rev int64) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	return nil
}

// Revision returns an object's resourceVersion as an etcd revision; 0 when
// it has none.
func Revision(obj runtime.Object) (int64, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return 0, err
	}
	return ParseRevision(m.GetResourceVersion())
}

// ParseRevision parses a resourceVersion string; "" is revision 0.
func ParseRevision(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid resource version %q", rv)
	}
	return n, nil
}

// FormatRevision returns a revision as a resourceVersion string.
func FormatRevision(rev int64) string { return strconv.FormatInt(rev, 10) }
