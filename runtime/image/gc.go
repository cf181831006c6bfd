package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// GC frees disk space. It removes the records of dangling images (no tags,
// no digest names) whose IDs are not in keep (the images containers use),
// then every layer directory no remaining image references, then whatever
// interrupted pulls and imports left under tmp/. It waits (within ctx) for
// pulls and imports in progress, in any process, to finish, and they wait
// for it.
func (s *Store) GC(ctx context.Context, keep map[string]bool) (removedImages, removedLayers int, err error) {
	unlock, err := lockFile(ctx, s.layersLock(), unix.LOCK_EX)
	if err != nil {
		return 0, 0, err
	}
	defer unlock()

	referenced := map[string]bool{}
	err = s.update(ctx, func(c *catalog) error {
		for id, img := range c.images {
			if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 && !keep[id] {
				delete(c.images, id)
				removedImages++
				continue
			}
			for _, l := range img.Layers {
				referenced[l] = true
			}
		}
		if err := removeStaleMetadataTemps(s.root); err != nil {
			return err
		}
		if removedImages == 0 {
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("image GC: %w", err)
	}

	entries, err := os.ReadDir(s.layersDir())
	if err != nil {
		return removedImages, 0, fmt.Errorf("image GC: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removedImages, removedLayers, err
		}
		if referenced["sha256:"+e.Name()] {
			continue
		}
		if err := s.removeLayerDir(e.Name()); err != nil {
			return removedImages, removedLayers, fmt.Errorf("image GC: layer %s: %w", e.Name(), err)
		}
		removedLayers++
	}

	// No pull or import runs while layers.lock is held exclusively, so all
	// of tmp/ is left over from interrupted ones.
	tmps, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return removedImages, removedLayers, fmt.Errorf("image GC: %w", err)
	}
	for _, e := range tmps {
		if err := os.RemoveAll(filepath.Join(s.tmpDir(), e.Name())); err != nil {
			return removedImages, removedLayers, fmt.Errorf("image GC: %w", err)
		}
	}
	if removedImages > 0 || removedLayers > 0 {
		s.log.Info("image GC", "removedImages", removedImages, "removedLayers", removedLayers)
	}
	return removedImages, removedLayers, nil
}

// removeLayerDir first renames the layer out of layers/ (atomically, so
// that a layer directory never exists half-deleted) and then deletes it.
func (s *Store) removeLayerDir(hex string) error {
	tmp, err := os.MkdirTemp(s.tmpDir(), "gc-")
	if err != nil {
		return err
	}
	if err := os.Rename(s.layerPath(v1.Hash{Algorithm: "sha256", Hex: hex}), filepath.Join(tmp, "layer")); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.RemoveAll(tmp)
}

// removeStaleMetadataTemps deletes images.json temporaries that a crash
// left behind. The caller holds images.lock, so none is being written.
func removeStaleMetadataTemps(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "images.json"+metadataTempInfix) {
			if err := os.Remove(filepath.Join(root, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
