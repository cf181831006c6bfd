package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// Pull downloads ref from its registry into the store and returns the
// stored image. A multi-arch index resolves to the store's platform. The
// credentials tried are opts.DockerConfigs, then Options.AuthFile, matched
// by registry host; none means anonymous. Plain HTTP is used only for hosts
// in Options.Insecure. Blobs are checked against their digests and each
// layer's uncompressed stream against the config's diffID; on a mismatch
// Pull fails, records no image and keeps nothing of the bad layer (layers
// of the image verified before it stay, for a retry to reuse or GC to
// remove). Layers already in the store are not downloaded again, nor
// anything at all (beyond the manifest) when the image is.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*Image, error) {
	start := time.Now()
	norm, err := NormalizeRef(ref)
	if err != nil {
		return nil, err
	}
	r, err := parseRef(norm)
	if err != nil {
		return nil, err
	}
	if s.insecure[r.Context().RegistryStr()] {
		if r, err = parseRef(norm, name.Insecure); err != nil {
			return nil, err
		}
	}
	kc, err := s.keychain(opts)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", norm, err)
	}
	desc, err := remote.Get(r,
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(s.transport),
		remote.WithPlatform(s.platform),
		remote.WithUserAgent("shepherd"),
	)
	if err != nil {
		return nil, pullError(norm, kc, err)
	}
	img, err := s.platformImage(norm, desc)
	if err != nil {
		return nil, pullError(norm, kc, err)
	}

	repo := repoName(r.Context())
	var tags []string
	if _, byTag := r.(name.Tag); byTag {
		tags = []string{norm}
	}
	// The digest name is that of what the reference resolved to (the index,
	// for a multi-arch image): pulling it again gets this same image.
	digests := []string{repo + "@" + desc.Digest.String()}

	unlock, err := lockFile(ctx, s.layersLock(), unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m, err := img.Manifest()
	if err != nil {
		return nil, pullError(norm, kc, err)
	}
	res, err := s.ingest(ctx, img, m.Config.Digest, tags, digests, nil)
	if err != nil {
		return nil, pullError(norm, kc, err)
	}
	s.log.Info("pulled image", "ref", norm, "id", res.image.ID, "layers", len(res.image.Layers),
		"layersFetched", res.layersFetched, "duration", time.Since(start))
	return res.image, nil
}

// platformImage picks the image for the store's platform out of an index;
// a plain image manifest is returned as it is.
func (s *Store) platformImage(ref string, desc *remote.Descriptor) (v1.Image, error) {
	if desc.MediaType != types.OCIImageIndex && desc.MediaType != types.DockerManifestList {
		return desc.Image()
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, m := range im.Manifests {
		if m.Platform == nil || !m.MediaType.IsImage() {
			continue
		}
		if platformMatches(*m.Platform, s.platform) {
			return idx.Image(m.Digest)
		}
		have = append(have, platformString(*m.Platform))
	}
	return nil, fmt.Errorf("no image for platform %s in the index of %s (it has: %s)",
		platformString(s.platform), ref, strings.Join(have, ", "))
}

// platformMatches reports whether an index entry's platform serves want:
// same OS and architecture, and the same variant when want names one
// (arm64's "v8" is its only variant, so it equals none).
func platformMatches(have, want v1.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	if want.Variant == "" || have.Variant == want.Variant {
		return true
	}
	return want.Architecture == "arm64" && (have.Variant == "" || have.Variant == "v8") && want.Variant == "v8"
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// pullError names the reference and, when the registry refused access,
// says which credentials it refused.
func pullError(ref string, kc *keychain, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		if src := kc.usedSource(); src != "" {
			return fmt.Errorf("pull %s: unauthorized: the registry refused the credentials from %s: %w", ref, src, err)
		}
		return fmt.Errorf("pull %s: unauthorized: no credentials for this registry in the pull secrets or the auth file: %w", ref, err)
	}
	return fmt.Errorf("pull %s: %w", ref, err)
}
