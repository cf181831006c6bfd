package image

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// OCI layout annotations naming an image. ref.name is often only a tag
// ("latest"); containerd writes the full name in its own annotation.
const (
	annotationRefName       = "org.opencontainers.image.ref.name"
	annotationContainerdRef = "io.containerd.image.name"
)

// Import loads the images of a `docker save` archive, or of an OCI image
// layout (a directory, or a tar of one), and returns them in archive order.
//
// A docker-save archive's images get the tags of its manifest.json. An OCI
// layout's get theirs from each index entry's annotations: a full name
// ("docker.io/library/busybox:latest") is used as it is; a bare tag
// ("latest") is joined to the layout's own name, the directory or archive
// file name without ".tar" or ".oci" ("busybox.tar" -> busybox); an entry
// without one is imported by ID only. Tags are normalised. Index entries for
// other platforms are skipped. Images are imported one after the other; on
// an error those before it stay imported.
func (s *Store) Import(ctx context.Context, p string) ([]*Image, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	// Held for the whole import, not just each image's layers: an OCI
	// archive is unpacked under tmp/, which GC empties.
	unlock, err := lockFile(ctx, s.layersLock(), unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()

	var imgs []*Image
	switch {
	case fi.IsDir():
		imgs, err = s.importLayout(ctx, p, layoutRepo(p))
	default:
		imgs, err = s.importArchive(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", p, err)
	}
	return imgs, nil
}

func (s *Store) importArchive(ctx context.Context, p string) ([]*Image, error) {
	contents, err := archiveKind(p)
	if err != nil {
		return nil, err
	}
	switch {
	case contents.docker:
		return s.importDockerArchive(ctx, p, contents.sizes)
	case contents.oci:
		dir, err := os.MkdirTemp(s.tmpDir(), "import-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := unpackLayoutArchive(p, dir); err != nil {
			return nil, err
		}
		return s.importLayout(ctx, dir, layoutRepo(p))
	default:
		return nil, errors.New("neither a docker save archive (no manifest.json) nor an OCI image layout (no oci-layout and index.json)")
	}
}

// archiveContents is what archiveKind learns from an archive's table of
// contents.
type archiveContents struct {
	// docker: manifest.json is there (newer Docker writes an OCI layout
	// alongside it, which lacks the tags). oci: oci-layout and index.json
	// are.
	docker, oci bool
	// sizes are the regular files' sizes, by cleaned name.
	sizes map[string]int64
}

func archiveKind(p string) (archiveContents, error) {
	c := archiveContents{sizes: map[string]int64{}}
	f, err := os.Open(p)
	if err != nil {
		return c, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return c, errors.New("the archive is gzip-compressed; decompress it first")
	}
	var hasIndex, hasLayout bool
	tr := tar.NewReader(br)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, fmt.Errorf("not a tar archive: %w", err)
		}
		n := path.Clean(hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			c.sizes[n] = hdr.Size
		}
		switch n {
		case "manifest.json":
			c.docker = true
		case "index.json":
			hasIndex = true
		case "oci-layout":
			hasLayout = true
		}
	}
	c.oci = hasIndex && hasLayout
	return c, nil
}

// importDockerArchive imports a `docker save` archive. An image's Size is
// the sum of its layer files in the archive: `docker save` stores layers
// uncompressed, and asking go-containerregistry for a compressed size would
// gzip every layer just to measure it.
func (s *Store) importDockerArchive(ctx context.Context, p string, sizes map[string]int64) ([]*Image, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(p) })
	if err != nil {
		return nil, err
	}
	var out []*Image
	for i, d := range m {
		var tags []string
		for _, t := range d.RepoTags {
			norm, err := NormalizeRef(t)
			if err != nil {
				return nil, fmt.Errorf("image %d: %w", i, err)
			}
			tags = append(tags, norm)
		}
		var tag *name.Tag
		switch {
		case len(d.RepoTags) > 0:
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("image %d: %w", i, err)
			}
			tag = &t
		case len(m) > 1:
			return nil, fmt.Errorf("image %d (%s) has no tag: only a single-image archive can hold an untagged image", i, d.Config)
		}
		img, err := tarball.ImageFromPath(p, tag)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		cfgName, err := img.ConfigName()
		if err != nil {
			return nil, err
		}
		var layerSizes []int64
		for _, l := range d.Layers {
			size, ok := sizes[path.Clean(l)]
			if !ok { // a symlink, as older Docker writes for a repeated layer
				layerSizes = nil
				break
			}
			layerSizes = append(layerSizes, size)
		}
		res, err := s.ingest(ctx, img, cfgName, tags, nil, layerSizes)
		if err != nil {
			return nil, err
		}
		s.log.Info("imported image", "archive", p, "id", res.image.ID, "tags", tags, "layersFetched", res.layersFetched)
		out = append(out, res.image)
	}
	return out, nil
}

func (s *Store) importLayout(ctx context.Context, dir, repo string) ([]*Image, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, d := range im.Manifests {
		var img v1.Image
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			img, err = s.indexImage(child)
			if err != nil {
				return nil, fmt.Errorf("index %s: %w", d.Digest, err)
			}
		case d.MediaType.IsImage():
			if d.Platform != nil && !platformMatches(*d.Platform, s.platform) {
				s.log.Debug("import: skipping image for another platform", "digest", d.Digest.String(), "platform", platformString(*d.Platform))
				continue
			}
			if img, err = idx.Image(d.Digest); err != nil {
				return nil, err
			}
		default:
			s.log.Debug("import: skipping index entry that is not an image", "digest", d.Digest.String(), "mediaType", string(d.MediaType))
			continue
		}
		var tags []string
		tag, err := layoutTag(d.Annotations, repo)
		if err != nil {
			return nil, err
		}
		if tag != "" {
			tags = []string{tag}
		}
		cfgName, err := img.ConfigName()
		if err != nil {
			return nil, err
		}
		res, err := s.ingest(ctx, img, cfgName, tags, nil, nil)
		if err != nil {
			return nil, err
		}
		s.log.Info("imported image", "layout", dir, "id", res.image.ID, "tags", tags, "layersFetched", res.layersFetched)
		out = append(out, res.image)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the layout has no image for platform %s", platformString(s.platform))
	}
	return out, nil
}

// indexImage picks the store's platform out of a nested index.
func (s *Store) indexImage(idx v1.ImageIndex) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, m := range im.Manifests {
		if m.Platform != nil && m.MediaType.IsImage() && platformMatches(*m.Platform, s.platform) {
			return idx.Image(m.Digest)
		}
	}
	return nil, fmt.Errorf("no image for platform %s", platformString(s.platform))
}

// layoutTag is the normalised tag an OCI index entry's annotations give it,
// "" for none.
func layoutTag(ann map[string]string, repo string) (string, error) {
	if n := ann[annotationContainerdRef]; n != "" {
		return NormalizeRef(n)
	}
	ref := ann[annotationRefName]
	switch {
	case ref == "":
		return "", nil
	case strings.ContainsAny(ref, "/:@"):
		return NormalizeRef(ref)
	case repo == "":
		return "", fmt.Errorf("annotation %s=%q is a bare tag and the layout's name gives no repository", annotationRefName, ref)
	default:
		return NormalizeRef(repo + ":" + ref)
	}
}

// layoutRepo is the repository a layout's bare tags belong to: its
// directory or file name, less ".tar" and ".oci"; "" if that is no valid
// repository name.
func layoutRepo(p string) string {
	base := strings.ToLower(filepath.Base(filepath.Clean(p)))
	for _, ext := range []string{".tar", ".oci"} {
		base = strings.TrimSuffix(base, ext)
	}
	if _, err := name.NewRepository(base); err != nil {
		return ""
	}
	return base
}

// unpackLayoutArchive copies an OCI layout's files out of a tar into dir.
// Only oci-layout, index.json and blobs/<algorithm>/<hex> are taken, as
// regular files; a layout has nothing else, and nothing else can land
// outside dir.
func unpackLayoutArchive(p, dir string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		n := path.Clean(hdr.Name)
		parts := strings.Split(n, "/")
		switch {
		case n == "oci-layout" || n == "index.json":
		case len(parts) == 3 && parts[0] == "blobs" && isAlnum(parts[1]) && isHex(parts[2]):
		default:
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
