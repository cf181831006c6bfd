package apiserver

import (
	"net/http"
	"strings"
	"sync"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/shepherd-lab/shepherd/apiserver/openapi"
	shepherdversion "github.com/shepherd-lab/shepherd/internal/version"
)

// openAPI holds the generated documents, built on first request.
type openAPI struct {
	once    sync.Once
	docs    *openapi.Documents
	v2Proto []byte
	err     error
}

func (o *openAPI) get(s *Server) (*openapi.Documents, []byte, error) {
	o.once.Do(func() {
		o.docs, o.err = openapi.Build(s.resources, "v"+shepherdversion.KubeMajor+"."+shepherdversion.KubeMinor+".0")
		if o.err != nil {
			return
		}
		// kubectl asks for v2 as protobuf; convert once.
		doc, err := openapiv2.ParseDocument(o.docs.V2)
		if err != nil {
			o.err = err
			return
		}
		o.v2Proto, o.err = proto.Marshal(doc)
	})
	return o.docs, o.v2Proto, o.err
}

// v2 protobuf media types kubectl sends.
var openAPIV2Protobuf = []string{
	"application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
	"application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
}

// serveOpenAPI answers /openapi/v2, /openapi/v3 and /openapi/v3/<group
// version>; route sends only their paths here.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	docs, v2Proto, err := s.openapi.get(s)
	if err != nil {
		writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	switch {
	case path == "/openapi/v2":
		accept := r.Header.Get("Accept")
		for _, pb := range openAPIV2Protobuf {
			if strings.Contains(accept, pb) {
				// The @ form is not a valid media type to send back.
				w.Header().Set("Content-Type", openAPIV2Protobuf[1])
				w.Write(v2Proto)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(docs.V2)
	case path == "/openapi/v3":
		w.Header().Set("Content-Type", "application/json")
		w.Write(docs.V3Index)
	default:
		gv := strings.TrimPrefix(path, "/openapi/v3/")
		doc, ok := docs.V3[gv]
		if !ok {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		hash := docs.V3Hash[gv]
		w.Header().Set("Etag", `"`+hash+`"`)
		if r.URL.Query().Get("hash") == hash {
			// The URL names this exact document: it never changes.
			w.Header().Set("Cache-Control", "public, immutable")
			w.Header().Set("Expires", "Thu, 31 Dec 2099 23:59:59 GMT")
		} else {
			w.Header().Set("Cache-Control", "no-cache, private")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}
}
