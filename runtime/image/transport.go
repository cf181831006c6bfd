package image

import (
	"fmt"
	"net/http"
)

// httpsOnly refuses plain-HTTP requests to hosts not listed as insecure.
// go-containerregistry itself falls back to HTTP for loopback and private
// addresses; Shepherd does so only where the node's configuration says so.
// It checks every request, redirects and token fetches included.
type httpsOnly struct {
	base     http.RoundTripper
	insecure map[string]bool
}

func (t *httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !t.insecure[req.URL.Host] {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("plain HTTP to %s refused: the host is not an insecure registry (Options.Insecure)", req.URL.Host)
	}
	return t.base.RoundTrip(req)
}
