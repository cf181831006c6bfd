package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxParallelLayers bounds how many layers of one image download and unpack
// at once.
const maxParallelLayers = 3

// ingestResult says what ingest did, for logs and callers' counters.
type ingestResult struct {
	image         *Image
	layersFetched int
}

// ingest puts img into the store under the given names (normalised tags and
// digest names): its layers (those not there yet), then its record. The
// image is recorded only when every layer is in place; a layer that failed
// verification is never kept (layers verified before the failure stay,
// unreferenced, for a retry to reuse or GC to remove).
//
// The caller holds layers.lock shared, from before the first layer is
// looked at until the record is written, so that GC cannot take a layer
// this image is about to reference.
//
// cfgName is the config's digest as the manifest states it: for a remote
// image, asking img for it would download the config. layerSizes, when not
// nil, are the sizes to record for the layers instead of asking them.
func (s *Store) ingest(ctx context.Context, img v1.Image, cfgName v1.Hash, tags, digests []string, layerSizes []int64) (ingestResult, error) {
	rec := &Image{ID: cfgName.String(), RepoTags: tags, RepoDigests: digests}

	// The same image already stored in full: only the names change, and
	// neither the config nor a layer is downloaded.
	if have, _ := s.Get(rec.ID); have != nil && s.hasLayers(have) {
		return s.record(ctx, rec, have, 0)
	}

	raw, err := img.RawConfigFile()
	if err != nil {
		return ingestResult{}, fmt.Errorf("image config: %w", err)
	}
	if sum := sha256.Sum256(raw); cfgName.Algorithm != "sha256" || hex.EncodeToString(sum[:]) != cfgName.Hex {
		return ingestResult{}, fmt.Errorf("image config does not match its digest %s", cfgName)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return ingestResult{}, fmt.Errorf("image config %s: %w", cfgName, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return ingestResult{}, fmt.Errorf("image %s: layers: %w", cfgName, err)
	}
	diffIDs := cf.RootFS.DiffIDs
	if len(diffIDs) != len(layers) {
		return ingestResult{}, fmt.Errorf("image %s: manifest has %d layers but the config lists %d diffIDs", cfgName, len(layers), len(diffIDs))
	}
	if layerSizes != nil && len(layerSizes) != len(layers) {
		layerSizes = nil
	}
	for i, l := range layers {
		if layerSizes != nil {
			rec.Size += layerSizes[i]
		} else {
			size, err := l.Size()
			if err != nil {
				return ingestResult{}, fmt.Errorf("image %s: layer %d size: %w", cfgName, i, err)
			}
			rec.Size += size
		}
		rec.Layers = append(rec.Layers, diffIDs[i].String())
	}
	rec.Config = Config{
		Entrypoint: cf.Config.Entrypoint,
		Cmd:        cf.Config.Cmd,
		Env:        cf.Config.Env,
		WorkingDir: cf.Config.WorkingDir,
		User:       cf.Config.User,
	}
	rec.Created = cf.Created.Time

	fetched, err := s.ensureLayers(ctx, layers, diffIDs)
	if err != nil {
		return ingestResult{}, err
	}
	return s.record(ctx, rec, rec, fetched)
}

// record writes rec's names onto the image described by full.
func (s *Store) record(ctx context.Context, rec, full *Image, fetched int) (ingestResult, error) {
	put := full.clone()
	put.RepoTags, put.RepoDigests = rec.RepoTags, rec.RepoDigests
	var out *Image
	err := s.update(ctx, func(c *catalog) error {
		out = c.put(put).clone()
		return nil
	})
	if err != nil {
		return ingestResult{}, err
	}
	return ingestResult{image: out, layersFetched: fetched}, nil
}

func (s *Store) hasLayers(img *Image) bool {
	for _, l := range img.Layers {
		h, err := v1.NewHash(l)
		if err != nil || !s.hasLayer(h) {
			return false
		}
	}
	return true
}

// ensureLayers brings in the layers not yet in the store, a few at a time.
// The first failure cancels the rest and is the one returned.
func (s *Store) ensureLayers(ctx context.Context, layers []v1.Layer, diffIDs []v1.Hash) (fetched int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, maxParallelLayers)
	)
	for i := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			got, err := s.ensureLayer(ctx, layers[i], diffIDs[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
			if got {
				fetched++
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err() // the caller's ctx, since ours is cancelled only on failure
	}
	return fetched, firstErr
}
