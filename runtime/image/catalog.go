package image

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// catalog is the set of image records and their names. It is pure data: the
// Store loads it from images.json, changes a copy and writes the copy back.
//
// Invariants: a name (tag or digest name) belongs to at most one image, and
// an image that has lost its last tag has no digest names either, so "no
// names" is exactly "dangling" (what GC may remove).
type catalog struct {
	images map[string]*Image // by ID
}

func newCatalog() *catalog { return &catalog{images: map[string]*Image{}} }

func (c *catalog) clone() *catalog {
	n := newCatalog()
	for id, img := range c.images {
		n.images[id] = img.clone()
	}
	return n
}

// resolve finds the image ref names: an ID, a unique ID prefix, or a name
// with a tag or digest (normalised first).
func (c *catalog) resolve(ref string) (*Image, error) {
	if h, ok := idQuery(ref); ok {
		return c.byIDPrefix(ref, h)
	}
	norm, err := NormalizeRef(ref)
	if err == nil {
		if img := c.byName(norm); img != nil {
			return img, nil
		}
	}
	if idPrefixFallback(ref) {
		return c.byIDPrefix(ref, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("image %q: %w (%v)", ref, ErrNotFound, err)
	}
	return nil, fmt.Errorf("image %q: %w", ref, ErrNotFound)
}

func (c *catalog) byIDPrefix(ref, hexPrefix string) (*Image, error) {
	var found *Image
	for id, img := range c.images {
		if strings.HasPrefix(strings.TrimPrefix(id, "sha256:"), hexPrefix) {
			if found != nil {
				return nil, fmt.Errorf("image ID prefix %q matches more than one image", ref)
			}
			found = img
		}
	}
	if found == nil {
		return nil, fmt.Errorf("image %q: %w", ref, ErrNotFound)
	}
	return found, nil
}

func (c *catalog) byName(norm string) *Image {
	for _, img := range c.images {
		if slices.Contains(img.RepoTags, norm) || slices.Contains(img.RepoDigests, norm) {
			return img
		}
	}
	return nil
}

// put records img (whose RepoTags and RepoDigests are the names this pull or
// import gives it), merging with an existing record of the same ID. Names
// move: another image holding one of them loses it.
func (c *catalog) put(img *Image) *Image {
	for _, n := range img.RepoTags {
		c.detach(n, img.ID)
	}
	for _, n := range img.RepoDigests {
		c.detach(n, img.ID)
	}
	rec, ok := c.images[img.ID]
	if !ok {
		rec = img.clone()
		rec.RepoTags, rec.RepoDigests = nil, nil
		c.images[img.ID] = rec
	}
	rec.RepoTags = union(rec.RepoTags, img.RepoTags)
	rec.RepoDigests = union(rec.RepoDigests, img.RepoDigests)
	return rec
}

// detach takes name n from every image but keepID. An image that loses its
// last tag that way (the tag now means a newer image) also loses its digest
// names: it is dangling from then on.
func (c *catalog) detach(n, keepID string) {
	for id, img := range c.images {
		if id == keepID {
			continue
		}
		if i := slices.Index(img.RepoTags, n); i >= 0 {
			img.RepoTags = slices.Delete(img.RepoTags, i, i+1)
			if len(img.RepoTags) == 0 {
				img.RepoTags, img.RepoDigests = nil, nil
			}
		}
		if i := slices.Index(img.RepoDigests, n); i >= 0 {
			img.RepoDigests = slices.Delete(img.RepoDigests, i, i+1)
		}
	}
}

// remove implements Store.Remove: an ID drops the record; a tag is taken
// away, and with the image's last tag the record goes (digest names with
// it, as `docker rmi` does); a digest name is taken away, and the record goes
// once the image has no names at all.
func (c *catalog) remove(ref string) error {
	img, err := c.resolve(ref)
	if err != nil {
		return err
	}
	if _, byID := idQuery(ref); byID || (idPrefixFallback(ref) && !c.isName(ref)) {
		delete(c.images, img.ID)
		return nil
	}
	norm, err := NormalizeRef(ref)
	if err != nil {
		return err
	}
	if i := slices.Index(img.RepoTags, norm); i >= 0 {
		img.RepoTags = slices.Delete(img.RepoTags, i, i+1)
		if len(img.RepoTags) == 0 {
			delete(c.images, img.ID)
		}
		return nil
	}
	if i := slices.Index(img.RepoDigests, norm); i >= 0 {
		img.RepoDigests = slices.Delete(img.RepoDigests, i, i+1)
		if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
			delete(c.images, img.ID)
		}
	}
	return nil
}

func (c *catalog) isName(ref string) bool {
	norm, err := NormalizeRef(ref)
	return err == nil && c.byName(norm) != nil
}

// list returns the images sorted by first tag (tagged images first), then
// by ID.
func (c *catalog) list() []*Image {
	out := make([]*Image, 0, len(c.images))
	for _, img := range c.images {
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (len(a.RepoTags) == 0) != (len(b.RepoTags) == 0) {
			return len(a.RepoTags) > 0
		}
		if len(a.RepoTags) > 0 && a.RepoTags[0] != b.RepoTags[0] {
			return a.RepoTags[0] < b.RepoTags[0]
		}
		return a.ID < b.ID
	})
	return out
}

// union returns the sorted set of a's and b's names.
func union(a, b []string) []string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := append(append([]string{}, a...), b...)
	sort.Strings(out)
	return slices.Compact(out)
}
