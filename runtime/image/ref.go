package image

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is how Shepherd (like containerd and the kubelet) spells Docker
// Hub's registry in normalised names; go-containerregistry says
// "index.docker.io".
const dockerHub = "docker.io"

// NormalizeRef returns the canonical form of an image reference, the form
// RepoTags and RepoDigests use: registry, full repository path, and a tag
// ("latest" when none is given) or a digest.
//
//	busybox                     -> docker.io/library/busybox:latest
//	quay.io/a/b:1               -> quay.io/a/b:1
//	busybox@sha256:...          -> docker.io/library/busybox@sha256:...
//	busybox:1.36@sha256:...     -> docker.io/library/busybox@sha256:... (the digest wins)
func NormalizeRef(ref string) (string, error) {
	r, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	return canonicalRef(r), nil
}

func parseRef(ref string, opts ...name.Option) (name.Reference, error) {
	if ref == "" {
		return nil, fmt.Errorf("empty image reference")
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return r, nil
}

func canonicalRef(r name.Reference) string {
	repo := repoName(r.Context())
	if d, ok := r.(name.Digest); ok {
		return repo + "@" + d.DigestStr()
	}
	return repo + ":" + r.Identifier()
}

// repoName is a repository's normalised name: "docker.io/library/busybox".
func repoName(repo name.Repository) string {
	host := repo.RegistryStr()
	if host == name.DefaultRegistry {
		host = dockerHub
	}
	return host + "/" + repo.RepositoryStr()
}

// idQuery reports whether ref names an image by ID rather than by name, and
// returns the hex digits to look for. "sha256:<hex>" is always an ID (full or
// a prefix of at least 12 digits); bare hex is an ID when it is a full 64
// digits. Bare hex of 12 to 63 digits is also a valid repository name, so
// it is tried as an ID prefix only after it failed as a name (see
// idPrefixFallback).
func idQuery(ref string) (hexPrefix string, ok bool) {
	if h, found := strings.CutPrefix(ref, "sha256:"); found {
		return h, isHex(h) && len(h) >= minIDPrefix && len(h) <= 64
	}
	return ref, isHex(ref) && len(ref) == 64
}

// idPrefixFallback reports whether ref, having failed as a name, should be
// tried as a short ID.
func idPrefixFallback(ref string) bool {
	return isHex(ref) && len(ref) >= minIDPrefix && len(ref) < 64
}

// minIDPrefix is the shortest ID prefix Get accepts, as `docker images`
// prints it.
const minIDPrefix = 12

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
