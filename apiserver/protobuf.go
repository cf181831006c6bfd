package apiserver

import (
	"bytes"
	"encoding/binary"
	"net/http"

	"google.golang.org/protobuf/encoding/protowire"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
)

// Kubernetes' protobuf wire format, which client-go's generated clients
// ask for first: objects in the "k8s\x00" + runtime.Unknown envelope,
// watch events as length-prefixed metav1.WatchEvent frames.

const contentTypeProtobufWatch = runtime.ContentTypeProtobuf + ";stream=watch"

var protoMagic = []byte{0x6b, 0x38, 0x73, 0x00} // "k8s\x00"

// encodeProto is obj in the protobuf envelope.
func encodeProto(obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	if err := protoCodec.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeProto(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", runtime.ContentTypeProtobuf)
	w.WriteHeader(code)
	w.Write(body)
}

// envelope wraps an object's protobuf message (as Entry.EncodedProto holds
// it) in Kubernetes' envelope.
func envelope(gvkAPIVersion, kind string, message []byte) ([]byte, error) {
	unk := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: gvkAPIVersion, Kind: kind}, Raw: message}
	data, err := unk.Marshal()
	if err != nil {
		return nil, err
	}
	return append(append(make([]byte, 0, len(protoMagic)+len(data)), protoMagic...), data...), nil
}

// protoList assembles a list's envelope from its items' messages, without
// decoding or re-encoding them: every k8s.io/api list is message
// {ListMeta metadata = 1; repeated Item items = 2}.
func protoList(res *api.Resource, listMeta metav1.ListMeta, items [][]byte) ([]byte, error) {
	lm, err := listMeta.Marshal()
	if err != nil {
		return nil, err
	}
	size := len(lm) + 16
	for _, it := range items {
		size += len(it) + 8
	}
	msg := make([]byte, 0, size)
	msg = protowire.AppendTag(msg, 1, protowire.BytesType)
	msg = protowire.AppendBytes(msg, lm)
	for _, it := range items {
		msg = protowire.AppendTag(msg, 2, protowire.BytesType)
		msg = protowire.AppendBytes(msg, it)
	}
	return envelope(res.GroupVersion.String(), res.ListKind, msg)
}

// protoWatchFrame is one watch event on a protobuf stream: a 4-byte
// big-endian length, then a metav1.WatchEvent whose object is enveloped.
func protoWatchFrame(eventType string, object []byte) ([]byte, error) {
	ev := metav1.WatchEvent{Type: eventType, Object: runtime.RawExtension{Raw: object}}
	data, err := ev.Marshal()
	if err != nil {
		return nil, err
	}
	frame := make([]byte, 4, 4+len(data))
	binary.BigEndian.PutUint32(frame, uint32(len(data)))
	return append(frame, data...), nil
}
