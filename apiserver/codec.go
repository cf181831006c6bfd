package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/shepherd-lab/shepherd/api"
)

// maxRequestBodyBytes is the largest body accepted, as kube-apiserver.
const maxRequestBodyBytes = 3 << 20

// Field validation levels of the fieldValidation query parameter.
const (
	fieldValidationIgnore = "Ignore"
	fieldValidationWarn   = "Warn"
	fieldValidationStrict = "Strict"
)

// decoders of request bodies, strict and lenient, by media type.
var (
	jsonStrict  = jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, api.Scheme, api.Scheme, jsonserializer.SerializerOptions{Strict: true})
	jsonLenient = jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, api.Scheme, api.Scheme, jsonserializer.SerializerOptions{})
	yamlStrict  = jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, api.Scheme, api.Scheme, jsonserializer.SerializerOptions{Yaml: true, Strict: true})
	yamlLenient = jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, api.Scheme, api.Scheme, jsonserializer.SerializerOptions{Yaml: true})
	protoCodec  = protobuf.NewSerializer(api.Scheme, api.Scheme)
)

// readBody reads a request body up to the size limit.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRequestBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxRequestBodyBytes))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading request body: %v", err))
	}
	return data, nil
}

// fieldValidation returns the request's fieldValidation level (Warn by
// default, as kube-apiserver).
func fieldValidation(r *http.Request) (string, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "":
		return fieldValidationWarn, nil
	case fieldValidationIgnore, fieldValidationWarn, fieldValidationStrict:
		return v, nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of %q, %q or %q, not %q", fieldValidationIgnore, fieldValidationWarn, fieldValidationStrict, v))
	}
}

// decodeObject decodes data, of the given media type, into an object of
// kind gvk. Unknown and duplicate fields are refused, reported as warnings,
// or ignored as level says.
func decodeObject(data []byte, mediaType string, gvk schema.GroupVersionKind, into runtime.Object, level string) (runtime.Object, []string, error) {
	var dec runtime.Decoder
	strict := level != fieldValidationIgnore
	switch mediaType {
	case "", runtime.ContentTypeJSON:
		dec = pick(strict, jsonStrict, jsonLenient)
	case runtime.ContentTypeYAML, "text/yaml":
		dec = pick(strict, yamlStrict, yamlLenient)
	case runtime.ContentTypeProtobuf:
		dec = protoCodec
	default:
		return nil, nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "", fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s", runtime.ContentTypeJSON, runtime.ContentTypeYAML, runtime.ContentTypeProtobuf), 0, false)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, apierrors.NewBadRequest("the request body is empty")
	}
	obj, actual, err := dec.Decode(data, &gvk, into)
	var warnings []string
	if err != nil && runtime.IsStrictDecodingError(err) {
		if level == fieldValidationStrict {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
		}
		if se, ok := runtime.AsStrictDecodingError(err); ok {
			for _, e := range se.Errors() {
				warnings = append(warnings, e.Error())
			}
		}
		err = nil
	}
	if err != nil {
		if runtime.IsNotRegisteredError(err) {
			if found := bodyKind(data, mediaType); found != nil {
				actual = found
				err = nil
			}
		}
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
		}
	}
	if actual != nil {
		if actual.GroupVersion() != gvk.GroupVersion() {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", actual.GroupVersion(), gvk.GroupVersion()))
		}
		if actual.Kind != gvk.Kind {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", actual.Kind, gvk.Kind))
		}
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, warnings, nil
}

// bodyKind reads the apiVersion and kind a JSON or YAML body declares.
func bodyKind(data []byte, mediaType string) *schema.GroupVersionKind {
	if mediaType == runtime.ContentTypeYAML || mediaType == "text/yaml" {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil
		}
		data = j
	}
	gvk, err := jsonserializer.DefaultMetaFactory.Interpret(data)
	if err != nil {
		return nil
	}
	return gvk
}

func pick(strict bool, a, b runtime.Decoder) runtime.Decoder {
	if strict {
		return a
	}
	return b
}

// mediaType returns the media type of a Content-Type header value.
func mediaType(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType
	}
	return mt
}

// output is the wire format a response is written in.
type output int

const (
	outputJSON output = iota
	outputYAML
	outputProtobuf
)

// negotiate picks the response format from the Accept header.
func negotiate(r *http.Request) (output, error) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return outputJSON, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["as"] != "" {
			// Other representations (Table, metadata) are negotiated by the
			// handlers that serve them.
			continue
		}
		switch mt {
		case runtime.ContentTypeJSON, "application/*", "*/*":
			return outputJSON, nil
		case runtime.ContentTypeYAML:
			return outputYAML, nil
		case runtime.ContentTypeProtobuf:
			return outputProtobuf, nil
		}
	}
	return outputJSON, notAcceptable()
}

// notAcceptable is kube-apiserver's 406 for an Accept header naming no
// form the server writes.
func notAcceptable() error {
	return apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "", "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf", 0, false)
}

// acceptable checks, before a request has any effect, that its response
// can be written in a form its Accept header names: kube-apiserver
// negotiates first, so a client that cannot read the answer (Accept:
// application/xml) gets a 406 and nothing is created, changed or deleted.
// A Table (tableMediaType) answers reads only; a watch is a stream, which
// YAML has no framing for.
func acceptable(r *http.Request, verb string) error {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return nil
	}
	read := verb == "get" || verb == "list" || verb == "watch"
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["as"] != "" {
			if read && tableMediaType(mt, params) {
				return nil
			}
			continue
		}
		switch mt {
		case runtime.ContentTypeJSON, "application/*", "*/*", runtime.ContentTypeProtobuf:
			return nil
		case runtime.ContentTypeYAML:
			if verb != "watch" {
				return nil
			}
		}
	}
	return notAcceptable()
}

// encodeJSON is the JSON wire form of an object, as watch-cache entries
// memoize it.
func encodeJSON(obj runtime.Object) ([]byte, error) { return json.Marshal(obj) }

// marshal encodes any response body.
func marshal(v any) ([]byte, error) { return json.Marshal(v) }

// wantPretty reports whether the client asked for indented output, or is a
// plain HTTP tool a person is reading (curl, wget), as kube-apiserver does.
func wantPretty(r *http.Request) bool {
	if p := r.URL.Query().Get("pretty"); p != "" {
		return p == "1" || p == "true"
	}
	ua := r.UserAgent()
	return strings.HasPrefix(ua, "curl") || strings.HasPrefix(ua, "Wget")
}

// writeRaw writes an already encoded JSON body in the negotiated format.
func writeRaw(w http.ResponseWriter, r *http.Request, code int, body []byte) {
	out, err := negotiate(r)
	if err != nil {
		out = outputJSON
	}
	switch {
	case out == outputProtobuf:
		// Bodies that reach here have no protobuf form (errors, version):
		// JSON, which every client reads.
	case out == outputYAML:
		y, err := yaml.JSONToYAML(body)
		if err == nil {
			w.Header().Set("Content-Type", runtime.ContentTypeYAML)
			w.WriteHeader(code)
			w.Write(y)
			return
		}
	case wantPretty(r):
		var buf bytes.Buffer
		if json.Indent(&buf, body, "", "  ") == nil {
			body = buf.Bytes()
		}
	}
	w.Header().Set("Content-Type", runtime.ContentTypeJSON)
	w.WriteHeader(code)
	w.Write(body)
	if len(body) > 0 && body[len(body)-1] != '\n' {
		w.Write([]byte{'\n'})
	}
}

// writeObject encodes obj in the negotiated format.
func writeObject(w http.ResponseWriter, r *http.Request, code int, obj any) {
	if o, ok := obj.(runtime.Object); ok {
		if out, _ := negotiate(r); out == outputProtobuf {
			if _, isStatus := o.(*metav1.Status); !isStatus {
				if body, err := encodeProto(o); err == nil {
					writeProto(w, code, body)
					return
				}
			}
		}
	}
	body, err := marshal(obj)
	if err != nil {
		writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	writeRaw(w, r, code, body)
}

// writeError writes err as a Status with its code.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := toStatus(err)
	writeObject(w, r, int(st.Code), st)
}

// successStatus is the Status kube-apiserver returns for a delete that
// removed the object at once.
func successStatus(res *api.Resource, name string, uid string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Details: &metav1.StatusDetails{
			Name: name, Group: res.GroupVersion.Group, Kind: res.Plural, UID: types.UID(uid),
		},
	}
}
